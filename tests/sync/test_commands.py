"""`orgfeed status`, `orgfeed orgs suspend|resume` and `orgfeed sync --watch` as a user runs them."""

import json
import signal
import subprocess
import sys
import time

from tests.support.configs import write_config

ORGFEED = [sys.executable, "-m", "app"]


def orgfeed(env, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([*ORGFEED, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_status_reports_counts_per_org_and_object_and_the_log(emulator, database_url, tmp_path):
    _, env = write_config(emulator, tmp_path, database_url, objects=("Account", "Contact"))
    assert orgfeed(env, "sync").returncode == 0
    result = orgfeed(env, "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    rows = {(item["org"], item["sobject"]): item for item in status["objects"]}
    assert sorted(rows) == [("amer", "Account"), ("amer", "Contact"), ("emea", "Account"), ("emea", "Contact")]
    for (org, sobject), item in rows.items():
        live = len(emulator.ids(org, sobject))
        assert (item["status"], item["salesforce_rows"], item["database_rows"], item["errored_rows"]) == (
            "synced",
            live,
            live,
            0,
        )
        assert item["mapped_fields"] > 10 and item["last_sync_at"] is not None
    table = orgfeed(env, "status")
    assert table.returncode == 0 and "Salesforce Rows" in table.stdout and "recent sync log" in table.stdout


def test_suspend_and_resume_an_org_from_the_command_line(emulator, database_url, tmp_path):
    _, env = write_config(emulator, tmp_path, database_url, objects=("Account",))
    assert orgfeed(env, "db", "upgrade").returncode == 0
    suspended = orgfeed(env, "orgs", "suspend", "emea")
    assert (suspended.returncode, suspended.stdout) == (0, "org emea suspended\n")
    summary = json.loads(orgfeed(env, "sync").stdout.splitlines()[-1])
    assert {(item["org"], item["status"]) for item in summary["objects"]} == {
        ("amer", "succeeded"),
        ("emea", "skipped"),
    }
    assert orgfeed(env, "status", "--json").returncode == 0
    assert orgfeed(env, "orgs", "resume", "emea").stdout == "org emea resumed\n"
    summary = json.loads(orgfeed(env, "sync").stdout.splitlines()[-1])
    assert {(item["org"], item["mode"], item["status"]) for item in summary["objects"]} == {
        ("amer", "incremental", "succeeded"),
        ("emea", "full", "succeeded"),
    }


def test_unknown_org_or_object_is_a_usage_error(emulator, database_url, tmp_path):
    _, env = write_config(emulator, tmp_path, database_url, objects=("Account",))
    result = orgfeed(env, "sync", "--org", "apac", "--object", "Lead")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --org apac: not configured (known: amer, emea)",
        "error: --object Lead: not configured (known: Account)",
    ]


def test_sync_before_db_upgrade_says_what_to_run(emulator, fresh_database_url, tmp_path):
    _, env = write_config(emulator, tmp_path, fresh_database_url, objects=("Account",))
    result = orgfeed(env, "sync")
    assert result.returncode == 1
    assert result.stderr == "error: the orgfeed schema is missing: run `orgfeed db upgrade` first\n"


def test_watch_keeps_syncing_until_sigterm(emulator, database_url, tmp_path):
    config, env = write_config(emulator, tmp_path, database_url, objects=("Account",))
    config.write_text(config.read_text().replace('fields = "*"', 'fields = "*"\npoll_seconds = 10'))
    process = subprocess.Popen(
        [*ORGFEED, "sync", "--watch"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    summaries = 0
    lines = []
    while summaries < 2 and time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        summaries += '"event":"summary"' in line
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=30)
    assert summaries == 2, "".join(lines) + err
    assert process.returncode == 0, err
