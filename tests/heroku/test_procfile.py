"""The Procfile's release and worker commands, run the way Heroku runs them.

The web command is tested in tests/odata/test_server.py.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.configs import write_config

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    entries = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    return {name.strip(): command.strip() for name, command in entries.items()}


def shell_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL" and not key.startswith("ORGFEED_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the venv's `orgfeed`
    env.update(extra)
    return env


def test_procfile_declares_release_web_and_worker():
    assert set(procfile()) == {"release", "web", "worker"}
    assert procfile()["worker"] == "orgfeed sync --watch"


def test_release_runs_twice_on_an_empty_database_without_error(fresh_database_url):
    env = shell_env(DATABASE_URL=fresh_database_url, ORGFEED_CONFIG=str(ROOT / "orgfeed.toml"))
    outputs = []
    for _ in range(2):
        result = subprocess.run(
            ["bash", "-c", procfile()["release"]], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
        )
        assert (result.returncode, result.stderr) == (0, ""), result.stdout
        outputs.append(result.stdout.splitlines())
    assert outputs[0][0].startswith("orgfeed schema upgraded from an empty database to revision ")
    assert outputs[1][0].startswith("orgfeed schema already at revision ")
    assert (
        outputs[0][1:]
        == outputs[1][1:]
        == [
            "skipped view global_assessment: table amer.employee does not exist yet "
            "(the worker creates the view after its first sync)",
            "skipped view global_contact: table amer.account does not exist yet "
            "(the worker creates the view after its first sync)",
        ]
    )


def test_worker_syncs_and_stops_on_sigterm(emulator, database_url, tmp_path):
    _config, env = write_config(emulator, tmp_path, database_url, objects=("Account",))
    env = shell_env(**{key: value for key, value in env.items() if key.isupper()})
    worker = subprocess.Popen(
        ["bash", "-c", f"exec {procfile()['worker']}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    summary = None
    while summary is None and time.monotonic() < deadline:
        line = worker.stdout.readline()
        if '"event":"summary"' in line:
            summary = line
    worker.send_signal(signal.SIGTERM)  # Heroku stops dynos with SIGTERM, then SIGKILL after 30 s
    _out, err = worker.communicate(timeout=30)
    assert summary is not None and '"ok":true' in summary, err
    assert worker.returncode == 0, err


def test_the_web_pool_has_a_connection_per_gunicorn_thread():
    import inspect
    import re

    from app.odata import wsgi

    threads = int(re.search(r"--threads (\d+)", procfile()["web"]).group(1))
    assert inspect.signature(wsgi.create).parameters["threads"].default == threads
