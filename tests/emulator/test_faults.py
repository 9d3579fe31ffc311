"""Fault injection: statuses with Salesforce error codes, delays and dropped connections, by path."""

from __future__ import annotations

import time

import pytest
import requests

from app.emulator import Emulator
from app.emulator.client import OrgClient
from app.emulator.errors import ControlError


def test_a_status_fault_answers_the_next_n_matching_requests(emulator: Emulator, client: OrgClient) -> None:
    emulator.inject_fault(
        "status",
        path="*/query*",
        count=2,
        status=400,
        error_code="QUERY_TIMEOUT",
        message="Your query request was running for too long.",
    )
    for _ in range(2):
        response = client.get("query", params={"q": "SELECT Id FROM Account"})
        assert (response.status_code, response.json()) == (
            400,
            [{"message": "Your query request was running for too long.", "errorCode": "QUERY_TIMEOUT"}],
        )
    assert client.get("query", params={"q": "SELECT Id FROM Account"}).status_code == 200


def test_faults_only_hit_matching_paths_and_methods(emulator: Emulator, client: OrgClient) -> None:
    emulator.inject_fault("status", path="*/sobjects/Account/*", method="PATCH", status=503)
    assert client.get("limits").status_code == 200
    record_id = emulator.ids("amer", "Account", limit=1)[0]
    assert client.get(f"sobjects/Account/{record_id}").status_code == 200
    refused = client.patch(f"sobjects/Account/{record_id}", json={"Rating": "Hot"})
    assert (refused.status_code, refused.json()[0]["errorCode"]) == (503, "SERVER_UNAVAILABLE")
    assert client.patch(f"sobjects/Account/{record_id}", json={"Rating": "Hot"}).status_code == 204


def test_a_delay_fault_stalls_the_request_then_answers_it(emulator: Emulator, client: OrgClient) -> None:
    emulator.inject_fault("delay", path="*/limits", seconds=0.4)
    started = time.monotonic()
    assert client.get("limits").status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    client.get("limits")
    assert time.monotonic() - started < 0.4


def test_a_drop_fault_closes_the_connection_without_a_response(emulator: Emulator, client: OrgClient) -> None:
    emulator.inject_fault("drop", path="*/sobjects")
    with pytest.raises(requests.ConnectionError):
        client.get("sobjects")
    assert client.get("sobjects").status_code == 200


def test_a_malformed_fault_answers_200_with_json_cut_off_mid_value(emulator: Emulator, client: OrgClient) -> None:
    emulator.inject_fault("malformed", path="*/query*")
    response = client.get("query", params={"q": "SELECT Id FROM Account"})
    assert (response.status_code, response.headers["Content-Type"]) == (200, "application/json;charset=UTF-8")
    assert response.content == b'{"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Acc'
    with pytest.raises(ValueError):
        response.json()
    assert client.get("query", params={"q": "SELECT Id FROM Account"}).json()["done"] is True


def test_faults_apply_to_the_token_endpoint_too(emulator: Emulator, client: OrgClient) -> None:
    emulator.inject_fault("status", path="/services/oauth2/token", status=500, error_code="UNKNOWN_EXCEPTION")
    org = emulator.org("amer")
    response = client.http.post(
        f"{emulator.base_url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": org.app.client_id,
            "client_secret": org.app.client_secret,
        },
    )
    assert response.status_code == 500


def test_pending_faults_are_listed_and_cleared(emulator: Emulator) -> None:
    emulator.inject_fault("delay", path="*", count=3, seconds=1)
    [pending] = emulator.faults.pending()
    assert (pending["kind"], pending["remaining"], pending["seconds"]) == ("delay", 3, 1)
    emulator.clear_faults()
    assert emulator.faults.pending() == []


def test_an_unknown_fault_kind_is_a_control_error(emulator: Emulator) -> None:
    with pytest.raises(ControlError, match="fault kind 'explode'"):
        emulator.inject_fault("explode")
