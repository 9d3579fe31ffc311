"""A clean shutdown of the Procfile's gunicorn (SIGTERM, as Heroku sends it) writes every access-log row."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from app.odata.accesslog import AccessLog

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 60


def web_command(port: int) -> str:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    return (
        line.removeprefix("web:")
        .strip()
        .replace("0.0.0.0:$PORT", f"127.0.0.1:{port}")
        .replace("--access-logfile -", "")
    )


def test_sigterm_right_after_the_last_response_loses_no_access_log_row(odata_database_url, feed, tmp_path):
    assert AccessLog.LINGER > 0  # rows wait in the writer's batch when the signal comes
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "orgfeed.toml"
    config.write_text("")
    env = {key: value for key, value in os.environ.items() if key != "ODATA_DATABASE_URL"}
    env.update(
        WEB_CONCURRENCY="2",
        DATABASE_URL=odata_database_url,
        ORGFEED_CONFIG=str(config),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    process = subprocess.Popen(
        [shutil.which("bash") or "/bin/bash", "-c", f"exec {web_command(port)}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    marker = f"shutdown-{time.monotonic_ns()}"
    url = f"http://127.0.0.1:{port}/odata/v4/{feed.feed}/people?$top=1&{marker}=1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/odata/v4/", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):  # a worker still booting on a busy machine
                assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)

        def get(_: int) -> int:
            return requests.get(url, auth=(feed.username, feed.password or ""), timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(get, range(REQUESTS)))
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=40) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert statuses == [200] * REQUESTS
    with psycopg.connect(odata_database_url) as conn:
        logged = conn.execute("select count(*) from orgfeed.access_log where path like %s", (f"%{marker}%",)).fetchone()
    assert logged[0] == REQUESTS
