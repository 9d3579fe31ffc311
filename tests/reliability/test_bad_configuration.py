"""Bad configuration and bad data: clear messages, exit status 2 or a logged failure, and nothing lost.

Real `orgfeed` processes for exit statuses and messages; the sync log and exact parity for what
the data looks like afterwards.
"""

from __future__ import annotations

import json

import psycopg
import pytest
from sqlalchemy import text

from tests.support.configs import write_full_config
from tests.support.parity import assert_parity
from tests.support.processes import run_orgfeed, summary_of


def sync_runs(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("select count(*) from orgfeed.sync_runs").fetchone()[0]


@pytest.mark.parametrize(
    "broken, expected",
    [
        ("[sync]\nworkers = 2\n[[orgs]\nname = 'amer'\n", "line 3"),  # TOML syntax
        ('[sync]\nworkers = "two"\n', "sync.workers"),  # wrong type
        ("[sync]\nworkers = 0\n", "sync.workers"),  # out of range
        ("[sync]\nwrokers = 2\n", "wrokers"),  # unknown key
        ("[[orgs]]\nname = 'Not A Schema'\nlogin_url = 'https://x'\nauth = 'client_credentials'\n", "name"),
        ("[[orgs]]\nname = 'amer'\nlogin_url = 'https://x'\nauth = 'telepathy'\n", "auth"),
    ],
)
@pytest.mark.parametrize("command", [["sync", "--json"], ["views", "apply"], ["status"]])
def test_a_malformed_orgfeed_toml_exits_2_naming_the_file_and_writes_nothing(
    emulator, database_url, tmp_path, broken, expected, command
):
    config, env = write_full_config(emulator, tmp_path, database_url)
    config.write_text(broken)
    result = run_orgfeed(env, *command)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert str(config) in result.stderr and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert sync_runs(database_url) == 0


def test_an_unreachable_database_exits_2_with_one_masked_line(emulator, tmp_path, unused_tcp_port):
    database_url = f"postgresql://orgfeed:s3cret-password@127.0.0.1:{unused_tcp_port}/orgfeed"
    _, env = write_full_config(emulator, tmp_path, database_url)
    for command in (["sync", "--json"], ["views", "generate"], ["status"], ["db", "upgrade"]):
        result = run_orgfeed(env, *command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "s3cret-password" not in result.stdout + result.stderr
        assert f"orgfeed:***@127.0.0.1:{unused_tcp_port}/orgfeed is unreachable" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_an_unreachable_org_is_logged_as_failed_and_the_other_org_and_the_old_rows_stay(
    emulator, engine, database_url, tmp_path, unused_tcp_port
):
    config, env = write_full_config(emulator, tmp_path, database_url)
    first = run_orgfeed(env, "sync", "--json")
    assert first.returncode == 0, first.stderr
    before = {sobject: assert_parity(emulator, engine, "amer", sobject) for sobject in ("Account", "Contact")}
    emulator.update("emea", "Account", [{"Id": emulator.ids("emea", "Account")[0], "Name": "While amer is away"}])
    emulator.advance_clock(60)
    body = config.read_text()
    login_url = next(org["login_url"] for org in emulator.describe_orgs() if org["name"] == "amer")
    config.write_text(
        body.replace(
            f'login_url = "{login_url}"\nauth = "client_credentials"',
            f'login_url = "https://127.0.0.1:{unused_tcp_port}"\nauth = "client_credentials"',
            1,
        )
    )

    result = run_orgfeed(env, "sync", "--json")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    summary = summary_of(result)
    assert {(item["org"], item["status"]) for item in summary["objects"]} == {("amer", "failed"), ("emea", "succeeded")}
    with engine.connect() as conn:
        entries = conn.execute(
            text(
                "select org, sobject, action, status, message from orgfeed.sync_log where status = 'Failed' order by id"
            )
        ).all()
    assert [(org, sobject, action, status) for org, sobject, action, status, _ in entries] == [
        ("amer", None, "Login", "Failed")
    ]
    assert f"cannot reach https://127.0.0.1:{unused_tcp_port}/services/oauth2/token" in entries[0].message
    assert "check login_url" in entries[0].message
    for sobject, live in before.items():  # amer's mirrored rows are all still there, unchanged
        assert assert_parity(emulator, engine, "amer", sobject) == live
    assert_parity(emulator, engine, "emea", "Account")


def test_a_field_of_a_type_orgfeed_does_not_know_is_stored_as_text_with_a_logged_warning(
    emulator, engine, database_url, tmp_path
):
    _, env = write_full_config(emulator, tmp_path, database_url)
    assert run_orgfeed(env, "sync", "--json", "--object", "Account").returncode == 0
    emulator.add_field("amer", "Account", "Hologram__c", "hologram", length=50)
    record_id = emulator.ids("amer", "Account")[0]  # (the emulator stores no values of a type it does not know)
    emulator.update("amer", "Account", [{"Id": record_id, "Name": "Changed with the new field"}])
    emulator.advance_clock(60)

    result = run_orgfeed(env, "sync", "--json", "--object", "Account")

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    logged = [json.loads(line) for line in result.stdout.splitlines()]
    assert any(event.get("status") == "Warning" and "hologram__c" in event.get("message", "") for event in logged), (
        logged
    )
    with engine.connect() as conn:
        column_type = conn.execute(
            text(
                "select data_type from information_schema.columns where table_schema = 'amer' "
                "and table_name = 'account' and column_name = 'hologram__c'"
            )
        ).scalar()
        value = conn.execute(text("select hologram__c from amer.account where sfid = :id"), {"id": record_id}).scalar()
        warnings = conn.execute(
            text(
                "select org, sobject, action, status, error_code from orgfeed.sync_log "
                "where error_code = 'UNKNOWN_TYPE'"
            )
        ).all()
    assert (column_type, value) == ("text", None)
    assert [tuple(row) for row in warnings] == [("amer", "Account", "Describe", "Warning", "UNKNOWN_TYPE")]
    for org in ("amer", "emea"):
        assert_parity(emulator, engine, org, "Account", purged_ok=False)
