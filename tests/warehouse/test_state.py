from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.warehouse import WarehouseError
from app.warehouse.state import (
    LogEntry,
    MappingState,
    finish_run,
    finish_run_object,
    read_mapping_state,
    recent_log,
    record_org,
    save_mapping_state,
    set_suspended,
    start_run,
    start_run_object,
    write_log,
)

MAY_1 = datetime(2024, 5, 1, tzinfo=UTC)
MAY_2 = datetime(2024, 5, 2, tzinfo=UTC)


def test_record_org_adds_once_and_keeps_the_org_id_unless_given(conn):
    record_org(conn, "emea", "00D000000000001AAA")
    record_org(conn, "emea")
    record_org(conn, "amer")
    assert conn.execute(text("select name, org_id, suspended from orgfeed.orgs order by name")).all() == [
        ("amer", None, False),
        ("emea", "00D000000000001AAA", False),
    ]


def test_set_suspended_toggles_and_names_unknown_orgs(conn):
    record_org(conn, "emea")
    set_suspended(conn, "emea", True)
    assert conn.execute(text("select suspended, suspended_at is not null from orgfeed.orgs")).one() == (True, True)
    set_suspended(conn, "emea", False)
    assert conn.execute(text("select suspended, suspended_at from orgfeed.orgs")).one() == (False, None)
    with pytest.raises(WarehouseError, match="unknown org 'apac': orgfeed knows emea"):
        set_suspended(conn, "apac", True)


def test_mapping_state_defaults_then_saved_values(conn):
    assert read_mapping_state(conn, "emea", "Employee") == MappingState("emea", "Employee")
    record_org(conn, "emea")
    save_mapping_state(conn, "emea", "Employee", status="synced", watermark=MAY_1, mapped_fields=40)
    save_mapping_state(conn, "emea", "Employee", salesforce_rows=12)
    assert read_mapping_state(conn, "emea", "Employee") == MappingState(
        "emea", "Employee", status="synced", watermark=MAY_1, mapped_fields=40, salesforce_rows=12
    )


def test_watermark_only_moves_forward(conn):
    record_org(conn, "emea")
    save_mapping_state(conn, "emea", "Employee", watermark=MAY_2)
    save_mapping_state(conn, "emea", "Employee", watermark=MAY_1)
    assert read_mapping_state(conn, "emea", "Employee").watermark == MAY_2


def test_save_mapping_state_refuses_unknown_fields_and_orgs(conn):
    with pytest.raises(WarehouseError, match="call record_org"):
        save_mapping_state(conn, "emea", "Employee", status="synced")
    record_org(conn, "emea")
    with pytest.raises(WarehouseError, match=r"no field\(s\) \['watermak'\]"):
        save_mapping_state(conn, "emea", "Employee", watermak=MAY_1)


def test_runs_and_run_objects_record_status_and_counts(conn):
    run_id = start_run(conn, full=True)
    start_run_object(conn, run_id, "emea", "Employee")
    finish_run_object(conn, run_id, "emea", "Employee", "failed", error="boom", rows_upserted=3, api_calls=2)
    finish_run(conn, run_id, "failed", rows_upserted=3, rows_tombstoned=1, api_calls=2)
    assert conn.execute(
        text(
            'select status, "full", rows_upserted, rows_tombstoned, api_calls, finished_at is not null '
            "from orgfeed.sync_runs where id = :id"
        ),
        {"id": run_id},
    ).one() == ("failed", True, 3, 1, 2, True)
    assert conn.execute(
        text(
            "select org, sobject, status, rows_upserted, api_calls, error "
            "from orgfeed.sync_run_objects where run_id = :id"
        ),
        {"id": run_id},
    ).one() == ("emea", "Employee", "failed", 3, 2, "boom")
    with pytest.raises(WarehouseError, match="'done' is not a run status"):
        finish_run(conn, run_id, "done")


def test_recent_log_returns_newest_first_with_times(conn):
    run_id = start_run(conn, full=False)
    write_log(
        conn, LogEntry("emea", "Describe", "Warning", sobject="Employee", message="field Photo__c is base64: skipped")
    )
    write_log(conn, LogEntry("emea", "Upsert", "Failed", "Employee", "0HnA", "VALUE_TOO_LONG", "name", run_id))
    entries = recent_log(conn, limit=2)
    stamped = conn.execute(text("select now()")).scalar()  # the transaction's time: what the database stamps
    assert entries == [  # the same time for both, so the later entry (by id) comes first
        LogEntry("emea", "Upsert", "Failed", "Employee", "0HnA", "VALUE_TOO_LONG", "name", run_id, stamped),
        LogEntry(
            "emea", "Describe", "Warning", "Employee", message="field Photo__c is base64: skipped", logged_at=stamped
        ),
    ]
    with pytest.raises(WarehouseError, match="'Oops' is not a sync log status"):
        write_log(conn, LogEntry("emea", "Upsert", "Oops"))
