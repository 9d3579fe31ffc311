"""The HTTPS server keeps connections alive (HTTP/1.1, RFC 9112 section 9.3) as Salesforce does."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from contextlib import closing

import pytest

from app.emulator import Emulator, demo_orgs

API = "/services/data/v62.0"


def _connection(emulator: Emulator) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(emulator.ca_bundle))
    host, port = emulator.base_url.removeprefix("https://").split(":")
    return http.client.HTTPSConnection(host, int(port), context=context, timeout=10)


@pytest.fixture
def connection(shared: Emulator) -> Iterator[http.client.HTTPSConnection]:
    with closing(_connection(shared)) as opened:
        yield opened


def _get(connection: http.client.HTTPSConnection, path: str, headers: dict[str, str] | None = None):
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response, response.read()


def test_two_requests_share_one_connection(shared: Emulator, connection: http.client.HTTPSConnection) -> None:
    headers = {"Authorization": f"Bearer {shared.session_id('amer')}"}
    first, _ = _get(connection, f"{API}/limits", headers)
    sock = connection.sock
    second, body = _get(connection, f"{API}/limits", headers)
    assert (first.status, second.status) == (200, 200)
    assert first.getheader("Connection") is None and second.getheader("Connection") is None
    assert first.getheader("Content-Length") is not None and b"DailyApiRequests" in body
    assert connection.sock is sock and sock is not None  # http.client reconnects when a server closes


def test_a_streamed_bulk_result_is_chunked_and_the_connection_carries_on(
    shared: Emulator, connection: http.client.HTTPSConnection
) -> None:
    token = shared.session_id("amer")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"operation": "query", "query": "SELECT Id FROM Contact"})
    connection.request("POST", f"{API}/jobs/query", body=body, headers=headers)
    job_id = json.loads(connection.getresponse().read())["id"]
    state = ""
    while state != "JobComplete":
        _, info = _get(connection, f"{API}/jobs/query/{job_id}", headers)
        state = json.loads(info)["state"]
    response, csv = _get(connection, f"{API}/jobs/query/{job_id}/results", headers)
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert csv.count(b"\n") == 301
    after, _ = _get(connection, f"{API}/limits", headers)
    assert after.status == 200


def test_a_body_the_app_did_not_read_is_skipped_before_the_next_request(
    shared: Emulator, connection: http.client.HTTPSConnection
) -> None:
    headers = {"Authorization": f"Bearer {shared.session_id('amer')}", "Content-Type": "application/json"}
    connection.request("POST", f"{API}/limits", body=b'{"unread": "' + b"x" * 50_000 + b'"}', headers=headers)
    refused = connection.getresponse()
    refused.read()
    assert refused.status == 405
    again, _ = _get(connection, f"{API}/limits", headers)
    assert again.status == 200


def test_a_client_asking_to_close_gets_connection_close(connection: http.client.HTTPSConnection) -> None:
    response, _ = _get(connection, "/services/data", {"Connection": "close"})
    assert (response.status, response.getheader("Connection")) == (200, "close")


def test_an_http_1_0_request_is_answered_and_closed(shared: Emulator) -> None:
    context = ssl.create_default_context(cafile=str(shared.ca_bundle))
    host, port = shared.base_url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(b"GET /services/data HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert b"Connection: close" in head and body.startswith(b"[")


def test_stopping_the_emulator_ends_idle_keep_alive_connections() -> None:
    emulator = Emulator(demo_orgs(rows=5)).start()
    with closing(_connection(emulator)) as connection:
        response, _ = _get(connection, "/services/data")
        assert response.status == 200
        emulator.stop()
        assert connection.sock is not None
        assert connection.sock.recv(1) == b""  # the server shut the connection down
