"""The feed behind a real server: the Procfile's gunicorn command, read by python-odata and by plain requests."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from requests.auth import HTTPBasicAuth

ROOT = Path(__file__).resolve().parents[2]


def procfile_web_command() -> str:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")]
    assert len(lines) == 1
    return lines[0].removeprefix("web:").strip()


def test_procfile_runs_gunicorn_threaded_with_the_long_request_line():
    command = procfile_web_command()
    assert command.startswith("gunicorn ")
    assert "--limit-request-line 8190" in command
    assert "--worker-class gthread" in command
    assert "--bind 0.0.0.0:$PORT" in command
    assert "'app.odata.wsgi:create()'" in command


@pytest.fixture(scope="module")
def gunicorn_url(odata_database_url, tmp_path_factory):
    """The Procfile's web command on a free port, as Heroku would run it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path_factory.mktemp("server") / "orgfeed.toml"
    config.write_text("")
    env = {key: value for key, value in os.environ.items() if key not in ("ODATA_DATABASE_URL",)}
    env.update(
        PORT=str(port),
        WEB_CONCURRENCY="1",
        DATABASE_URL=odata_database_url,
        ORGFEED_CONFIG=str(config),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    command = procfile_web_command().replace("0.0.0.0", "127.0.0.1").replace("--access-logfile -", "")
    process = subprocess.Popen(
        [shutil.which("bash") or "/bin/bash", "-c", f"exec {command}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/odata/v4/", timeout=1)
            break
        except (requests.ConnectionError, requests.Timeout):  # a worker still booting on a busy machine
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}") from None
            time.sleep(0.2)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    process.stderr.close()


@pytest.fixture(scope="module")
def service(gunicorn_url, feed):
    return f"{gunicorn_url}/odata/v4/{feed.feed}/", HTTPBasicAuth(feed.username, feed.password)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_python_odata_reads_every_entity_set(service):
    from odata import ODataService

    url, auth = service
    odata = ODataService(url, auth=auth, reflect_entities=True, quiet_progress=True)
    counts = {}
    for name, entity in sorted(odata.entities.items()):
        rows = list(odata.query(entity))  # follows @odata.nextLink through the 2,000-row pages
        counts[name] = (len(rows), len({row.id for row in rows}))
    assert counts == {"big": (10000, 10000), "people": (8, 8)}
    person = odata.query(odata.entities["people"]).filter(odata.entities["people"].lastname == "O'Brien").first()
    assert (person.id, person.lastname, person.headcount) == ("a02", "O'Brien", 5)
    assert odata.query(odata.entities["big"]).count() == 10000  # through /$count


def test_paging_through_the_real_server_gzipped_to_the_end(service):
    url, auth = service
    link, ids = url + "big?$select=id&$count=true", []
    with requests.Session() as session:
        while link:
            response = session.get(link, auth=auth, timeout=30)
            assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
            assert response.headers["OData-Version"] == "4.0"
            body = response.json()
            assert body["@odata.count"] == 10000
            ids.extend(row["id"] for row in body["value"])
            link = body.get("@odata.nextLink")
    assert ids == [f"k{i:06d}" for i in range(1, 10001)]


def test_request_lines_up_to_8190_bytes_are_accepted(service):
    url, auth = service
    root, clause, clauses = url[url.index("/odata") :], "contains(lastname,'danielle hutchens') eq true", []
    while len(f"GET {root}people?$select=id&$filter={quote(' or '.join([*clauses, clause]))} HTTP/1.1") <= 8190:
        clauses.append(clause)
    path = f"{root}people?$select=id&$filter={quote(' or '.join(clauses))}"
    assert len(f"GET {path} HTTP/1.1") > 8100  # gunicorn's default limit is 4,094
    response = requests.get(url[: url.index("/odata")] + path, auth=auth, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["value"] == []


def test_the_router_scheme_reaches_the_next_link(service):
    url, auth = service
    response = requests.get(url + "big?$select=id", auth=auth, headers={"X-Forwarded-Proto": "https"}, timeout=30)
    assert response.json()["@odata.nextLink"].startswith("https://")


def test_gzip_request_body_and_unauthenticated_over_http(service):
    url, auth = service
    body = gzip.compress(b'{"lastname": "x"}')
    response = requests.post(
        url + "people",
        data=body,
        auth=auth,
        timeout=30,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 405
    anonymous = requests.get(url + "people", timeout=30)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == 'Basic realm="orgfeed"'
    assert re.fullmatch(r'\{"error":\{.*\}\}', anonymous.text)


def test_orgfeed_serve_serves_the_feed(odata_database_url, feed, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "orgfeed.toml"
    config.write_text("")
    env = {key: value for key, value in os.environ.items() if key != "ODATA_DATABASE_URL"}
    env.update(DATABASE_URL=odata_database_url, ORGFEED_CONFIG=str(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, response = time.monotonic() + 30, None
        while response is None:
            try:
                response = requests.get(
                    f"http://127.0.0.1:{port}/odata/v4/{feed.feed}/people?$top=1&$select=id",
                    auth=HTTPBasicAuth(feed.username, feed.password),
                    timeout=5,
                )
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "orgfeed serve did not start"
                time.sleep(0.2)
        assert response.json()["value"] == [{"id": "a01"}]
    finally:
        process.terminate()
        process.wait(timeout=20)
