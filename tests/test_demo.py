"""`orgfeed demo` as a new user runs it: embedded database, emulated orgs, a working curl line, Ctrl-C, a second run."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.databases import embedded_data_dir

ROOT = Path(__file__).resolve().parents[1]


def start_demo(env) -> tuple[subprocess.Popen, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "demo", "--port", "0", "--rows", "120"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            return process, lines
    raise AssertionError("the demo ended before it was ready:\n" + "\n".join(lines))


def field(lines: list[str], label: str) -> str:
    return next(line.split(label, 1)[1].strip() for line in lines if line.strip().startswith(label))


def stop_demo(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=60)[0]
    assert process.returncode == 0, rest
    return rest


def test_demo_serves_a_working_feed_and_dashboard_and_a_second_run_reuses_it():
    data_dir = embedded_data_dir()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL" and not key.startswith("ORGFEED_")}
    env["ORGFEED_DATA_DIR"] = str(data_dir)
    try:
        process, lines = start_demo(env)
        try:
            assert lines[0] == "syncing the emulated orgs amer and emea (120 records per object)…"
            assert sorted(line.strip() for line in lines[1:9]) == sorted(
                f"{org} {sobject}: succeeded, 120 rows"
                for org in ("amer", "emea")
                for sobject in ("Employee", "EmployeeCrisisAssessment", "Account", "Contact")
            )
            curl = shlex.split(field(lines, "try it"))
            assert curl[:2] == ["curl", "-u"]
            user, password = curl[2].split(":", 1)
            answer = requests.get(curl[3], auth=(user, password), timeout=30)
            assert answer.status_code == 200 and answer.json()["@odata.count"] == 240
            assert len(answer.json()["value"]) == 3 and {row["geo"] for row in answer.json()["value"]} == {"AMER"}
            dashboard = re.match(r"(\S+)\s+\(any user name, password (\S+)\)", field(lines, "dashboard"))
            assert requests.get(dashboard.group(1), auth=("admin", dashboard.group(2)), timeout=30).status_code == 200
            assert requests.get(dashboard.group(1), timeout=30).status_code == 401
            psql = shlex.split(field(lines, "psql"))
            assert psql == ["psql", f"postgresql://postgres:@/orgfeed?host={data_dir}"]
        finally:
            rest = stop_demo(process)
        assert rest.splitlines()[-1] == "stopped the web server, the emulator and the embedded database"
        assert not (data_dir / "postmaster.pid").exists()

        again, lines_again = start_demo(env)
        try:
            assert field(lines_again, "feed user") == user  # the same feed, a new password
            assert field(lines_again, "feed password") != password
            incremental = ("succeeded, 1 rows", "succeeded, 0 rows")  # nothing reloaded
            assert all(line.endswith(incremental) for line in lines_again[1:9]), lines_again
        finally:
            stop_demo(again)
    finally:
        if (data_dir / "postmaster.pid").exists():
            subprocess.run([sys.executable, "-m", "app", "db", "stop"], env=env, timeout=60)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def test_the_demo_declares_the_views_and_feed_of_the_example_config():
    import tomllib

    from app.demo import DEMO_TABLES

    example = tomllib.loads((ROOT / "orgfeed.toml").read_text())
    assert DEMO_TABLES["views"] == example["views"]
    assert DEMO_TABLES["feeds"] == example["feeds"]
    assert [m["object"] for m in DEMO_TABLES["mappings"]] == [m["object"] for m in example["mappings"]]
