"""The Procfile's web process (gunicorn) on a free port of 127.0.0.1, as Heroku runs it, for tests and bench/."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 60  # a loaded 2-core machine can take this long to boot the workers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile_web_command() -> str:
    """The Procfile's `web:` command as written; there must be exactly one web line."""
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")]
    return line.removeprefix("web:").strip()


@dataclass(frozen=True)
class WebServer:
    url: str  # http://127.0.0.1:<port>
    process: subprocess.Popen  # gunicorn's master: the shell execs it
    log: IO[bytes]  # gunicorn's stderr

    def read_log(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextlib.contextmanager
def web_server(
    database_url: str,
    config: Path,
    *,
    odata_database_url: str | None = None,
    workers: int | None = 1,
    access_log: bool = False,
    env: Mapping[str, str] | None = None,
) -> Iterator[WebServer]:
    """The Procfile's web command serving `database_url` with `config`; yields once it answers, and stops it on exit.

    `workers` sets WEB_CONCURRENCY (None keeps the Procfile's default). `env` (default: this process's
    environment) gives the rest; ODATA_DATABASE_URL is taken only from `odata_database_url`. The
    access log is left out unless `access_log`. Raises RuntimeError, with gunicorn's log, if it
    exits or does not answer within START_SECONDS.
    """
    port = free_port()
    environment = dict(os.environ if env is None else env)
    environment.pop("ODATA_DATABASE_URL", None)
    environment.update(
        PORT=str(port),
        DATABASE_URL=database_url,
        ORGFEED_CONFIG=str(config),
        # The gunicorn of the interpreter running the tests, not one elsewhere on PATH.
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}",
    )
    if workers is not None:
        environment["WEB_CONCURRENCY"] = str(workers)
    if odata_database_url:
        environment["ODATA_DATABASE_URL"] = odata_database_url
    command = procfile_web_command().replace("0.0.0.0", "127.0.0.1")
    if not access_log:
        command = command.replace("--access-logfile -", "")
    with tempfile.TemporaryFile() as log, contextlib.ExitStack() as stack:
        # `exec`: the shell (which expands ${WEB_CONCURRENCY:-2}) becomes gunicorn's master.
        process = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        stack.callback(_stop, process)
        server = WebServer(f"http://127.0.0.1:{port}", process, log)
        _wait_until_answering(server)
        yield server


def _wait_until_answering(server: WebServer) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            requests.get(server.url + "/odata/v4/", timeout=5)
            return
        except requests.RequestException:  # not listening yet, or a worker still booting
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{server.read_log()[-3000:]}") from None
            time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    # SIGINT: gunicorn's quick shutdown (SIGTERM would wait for keep-alive connections to close).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
