import json
import threading
from dataclasses import replace
from datetime import datetime

from sqlalchemy import text

from app.sync.report import SyncOptions
from app.sync.run import run_sync
from tests.support.configs import OBJECTS, make_settings
from tests.support.emulators import count_requests
from tests.support.parity import assert_parity


def sync(settings, engine, **options):
    return run_sync(settings, engine, SyncOptions(**options))


def log_entries(engine, **where) -> list[tuple]:
    clauses = " and ".join(f"{key} = :{key}" for key in where) or "true"
    with engine.connect() as conn:
        return conn.execute(
            text(
                f"select org, sobject, action, status, error_code, message, record_id "
                f"from orgfeed.sync_log where {clauses} order by id"
            ),
            where,
        ).all()


def test_first_sync_mirrors_every_object_of_both_orgs(emulator, engine, database_url):
    report = sync(make_settings(emulator, database_url), engine)
    assert report.ok, [(r.org, r.sobject, r.status, r.message) for r in report.objects]
    assert sorted((r.org, r.sobject, r.mode, r.status) for r in report.objects) == sorted(
        (org, sobject, "full", "succeeded") for org in ("amer", "emea") for sobject in OBJECTS
    )
    for org in ("amer", "emea"):
        for sobject in OBJECTS:
            assert assert_parity(emulator, engine, org, sobject, purged_ok=False) > 0


def test_full_load_through_bulk_matches_the_rest_load(emulator, engine, database_url):
    rest_selects = count_requests(emulator, "*/queryAll*")  # the REST full load's select (counts use `query`)
    report = sync(make_settings(emulator, database_url, bulk_threshold=0), engine)
    assert report.ok
    # Every object of both orgs came through one Bulk job, and nothing fell back to REST.
    assert {org: emulator.org(org).bulk_jobs_created for org in ("amer", "emea")} == {"amer": 4, "emea": 4}
    assert rest_selects() == 0
    assert log_entries(engine, action="Bulk") == []
    for org in ("amer", "emea"):
        for sobject in OBJECTS:
            assert_parity(emulator, engine, org, sobject, purged_ok=False)


def test_incremental_rounds_of_writes_reach_exact_parity(emulator, engine, database_url):
    settings = make_settings(emulator, database_url)
    assert sync(settings, engine).ok
    ids = emulator.ids("amer", "Employee")
    new_ids = emulator.insert(
        "amer",
        "Employee",
        [
            {
                "FirstName": "Ada",
                "LastName": "Lovelace",
                "Email": "ada@example.com",
                "EmployeeNumber": "E-90001",
                "EmployeeStatus": "Active",
            }
        ],
    )
    emulator.update("amer", "Employee", [{"Id": ids[0], "LastName": "Renamed"}, {"Id": ids[1], "AlternateEmail": None}])
    emulator.delete("amer", "Employee", [ids[2], ids[3]])
    emulator.advance_clock(60)
    second = sync(settings, engine, objects=("Employee",))
    assert second.ok and {r.mode for r in second.objects} == {"incremental"}
    assert assert_parity(emulator, engine, "amer", "Employee") == len(ids) + 1 - 2
    with engine.connect() as conn:
        row = conn.execute(
            text("select lastname, _hc_lastop from amer.employee where sfid = :id"), {"id": ids[0]}
        ).one()
        assert tuple(row) == ("Renamed", "UPDATED")
        assert (
            conn.execute(text("select firstname from amer.employee where sfid = :id"), {"id": new_ids[0]}).scalar()
            == "Ada"
        )

    emulator.undelete("amer", "Employee", [ids[2]])
    emulator.purge("amer", "Employee", [ids[3]])
    emulator.advance_clock(60)
    assert sync(settings, engine, objects=("Employee",)).ok
    assert assert_parity(emulator, engine, "amer", "Employee") == len(ids) + 1 - 1
    with engine.connect() as conn:
        flags = dict(
            conn.execute(
                text("select sfid, isdeleted from amer.employee where sfid in (:a, :b)"), {"a": ids[2], "b": ids[3]}
            ).all()
        )
    assert flags == {ids[2]: False, ids[3]: True}


def test_hard_delete_mode_removes_deleted_rows(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    settings = replace(settings, orgs=tuple(org.model_copy(update={"delete_mode": "hard"}) for org in settings.orgs))
    assert sync(settings, engine).ok
    doomed = emulator.ids("emea", "Account")[:2]
    emulator.delete("emea", "Account", doomed)
    emulator.advance_clock(60)
    assert sync(settings, engine).ok
    with engine.connect() as conn:
        left = conn.execute(
            text("select count(*) from emea.account where sfid in (:a, :b)"), {"a": doomed[0], "b": doomed[1]}
        ).scalar()
    assert left == 0


def test_reconciliation_finds_records_purged_without_a_trace(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Contact",))
    assert sync(settings, engine).ok
    victim = emulator.ids("amer", "Contact")[0]
    emulator.delete("amer", "Contact", [victim])
    emulator.purge("amer", "Contact", [victim], trim_delete_log=True)  # not even the deleted endpoint knows
    emulator.advance_clock(60)
    report = sync(settings, engine, reconcile=True)
    assert report.ok
    with engine.connect() as conn:
        assert (
            conn.execute(text("select isdeleted from amer.contact where sfid = :id"), {"id": victim}).scalar() is True
        )
    assert [(org, action, status) for org, _, action, status, *_ in log_entries(engine, action="Reconcile")] == [
        ("amer", "Reconcile", "Resolved")
    ]


def test_full_resync_swaps_in_a_new_table_with_the_same_rows(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Employee",))
    assert sync(settings, engine).ok
    emulator.update("emea", "Employee", [{"Id": emulator.ids("emea", "Employee")[0], "FirstName": "Zoë"}])
    report = sync(settings, engine, full=True)
    assert report.ok and {r.mode for r in report.objects} == {"full"}
    assert_parity(emulator, engine, "emea", "Employee", purged_ok=False)


def test_full_load_since_a_cutoff_takes_only_newer_rows(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    emulator.advance_clock(3600)
    fresh = emulator.ids("amer", "Account")[:3]
    emulator.update("amer", "Account", [{"Id": record_id, "Name": f"Fresh {n}"} for n, record_id in enumerate(fresh)])
    cutoff = emulator.clock.now().replace(microsecond=0)
    report = sync(settings, engine, full=True, since=cutoff, orgs=("amer",))
    assert report.ok
    with engine.connect() as conn:
        assert sorted(conn.execute(text("select sfid from amer.account")).scalars()) == sorted(fresh)


def test_a_new_field_gets_a_column_filled_for_existing_rows(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Employee",))
    assert sync(settings, engine).ok
    emulator.add_field("amer", "Employee", "Badge__c", "string", length=20)
    first = emulator.ids("amer", "Employee")[0]
    emulator.update("amer", "Employee", [{"Id": first, "Badge__c": "B-1"}])
    assert sync(settings, engine).ok
    with engine.connect() as conn:
        assert (
            conn.execute(text("select badge__c from amer.employee where sfid = :id"), {"id": first}).scalar() == "B-1"
        )
    assert_parity(emulator, engine, "amer", "Employee")


def test_a_removed_field_is_no_longer_selected_and_logged(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Employee",))
    settings = replace(
        settings, mappings=(settings.mappings[0].model_copy(update={"fields": ("FirstName", "LastName", "Email")}),)
    )
    assert sync(settings, engine).ok
    emulator.remove_field("emea", "Employee", "Email")
    report = sync(settings, engine)
    assert report.ok
    warnings = [(org, status, code) for org, _, _, status, code, *_ in log_entries(engine, status="Warning")]
    assert warnings == [("emea", "Warning", "FIELD_NOT_FOUND")]


def test_a_widened_field_widens_its_column(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Employee",))
    assert sync(settings, engine).ok
    emulator.retype_field("amer", "Employee", "FirstName", "string", length=200)
    assert sync(settings, engine).ok
    with engine.connect() as conn:
        length = conn.execute(
            text(
                "select character_maximum_length from information_schema.columns "
                "where table_schema = 'amer' and table_name = 'employee' and column_name = 'firstname'"
            )
        ).scalar()
    assert length == 200


def test_expired_sessions_are_renewed_once_and_the_sync_goes_on(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account", "Contact"))
    assert sync(settings, engine).ok
    emulator.update("amer", "Account", [{"Id": emulator.ids("amer", "Account")[0], "Name": "After expiry"}])
    emulator.advance_clock(60)
    started = {"amer": threading.Event(), "emea": threading.Event()}
    expiry = threading.Lock()
    expired = []

    def expire_once_both_orgs_are_in(event):
        # Objects start after their org has logged in: once both orgs have, end every session before any
        # object's first call, so that both objects of each org (two workers) meet INVALID_SESSION_ID.
        if event.kind != "start":
            return
        started[event.org].set()
        assert all(ready.wait(timeout=60) for ready in started.values())
        with expiry:
            if not expired:
                expired.append(emulator.expire_sessions())

    tokens = count_requests(emulator, "/services/oauth2/token")
    report = run_sync(settings, engine, SyncOptions(), on_event=expire_once_both_orgs_are_in)
    assert report.ok, [(r.org, r.sobject, r.status, r.message) for r in report.objects]
    assert expired == [4]  # both orgs' sessions of the first run, and of this one: both orgs were in
    assert tokens() == 4  # per org: the login, and one renewal however many of its threads failed
    assert log_entries(engine, status="Failed") == []
    for org in ("amer", "emea"):
        for sobject in ("Account", "Contact"):
            assert_parity(emulator, engine, org, sobject)


def test_server_errors_are_retried_and_logged(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",), orgs=None)
    emulator.inject_fault("status", path="*/query*", count=2, status=503, error_code="SERVER_UNAVAILABLE")
    report = run_sync(settings, engine, SyncOptions(orgs=("amer",)))
    assert report.ok
    assert len(log_entries(engine, status="Retrying")) == 2
    assert_parity(emulator, engine, "amer", "Account", purged_ok=False)


def test_request_limit_exceeded_throttles_that_org_only(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    emulator.set_api_allocation("emea", maximum=10, used=10)
    report = sync(settings, engine)
    statuses = {(r.org, r.status) for r in report.objects}
    assert statuses == {("amer", "succeeded"), ("emea", "throttled")}
    assert not report.ok
    assert [(org, status) for org, _, _, status, *_ in log_entries(engine, status="Throttled")] == [
        ("emea", "Throttled")
    ]


def test_api_budget_pauses_the_org_before_the_allocation_is_gone(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account", "Contact"))
    emulator.set_api_allocation("amer", maximum=1000, used=900)
    report = sync(settings, engine, orgs=("amer",))
    assert {r.status for r in report.objects} == {"throttled"}
    assert {code for *_, code, _, _ in log_entries(engine, status="Throttled")} == {"API_BUDGET"}


def test_a_failed_bulk_job_falls_back_to_rest(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Employee",), bulk_threshold=0)
    emulator.inject_fault("bulk_failed", path="*", count=2)
    report = sync(settings, engine)
    assert report.ok
    assert {code for *_, code, _, _ in log_entries(engine, action="Bulk")} == {"Failed"}
    assert_parity(emulator, engine, "amer", "Employee", purged_ok=False)
    assert_parity(emulator, engine, "emea", "Employee", purged_ok=False)


def test_a_value_that_does_not_fit_is_logged_for_its_row_and_the_rest_load(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    assert sync(settings, engine).ok
    ids = emulator.ids("amer", "Account")
    # AnnualRevenue is currency(18, 0): 10**30 does not fit numeric(18,0).
    emulator.update(
        "amer",
        "Account",
        [
            {"Id": ids[0], "AnnualRevenue": 10**30, "Name": "Too rich"},
            {"Id": ids[1], "AnnualRevenue": 5000, "Name": "Fits"},
        ],
    )
    emulator.advance_clock(60)
    report = sync(settings, engine, orgs=("amer",))
    assert report.ok and report.objects[0].errored == 1
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select sfid, name, annualrevenue, _hc_err is not null from amer.account "
                "where sfid in (:a, :b) order by sfid"
            ),
            {"a": ids[0], "b": ids[1]},
        ).all()
    assert [tuple(row) for row in rows] == [(ids[0], "Too rich", None, True), (ids[1], "Fits", 5000, False)]
    failed = [(record_id, code) for *_, code, _, record_id in log_entries(engine, status="Failed")]
    assert failed == [(ids[0], "VALUE_DOES_NOT_FIT")]


def test_a_schema_holding_another_orgs_data_is_refused(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    amer, emea = settings.orgs
    assert sync(replace(settings, orgs=(amer,)), engine).ok
    swapped = emea.model_copy(update={"name": "amer", "geo": "AMER"})  # emea's credentials configured as "amer"
    report = sync(replace(settings, orgs=(swapped,)), engine)
    assert [(r.org, r.status) for r in report.objects] == [("amer", "failed")]
    assert "holds org" in report.objects[0].message
    assert_parity(emulator, engine, "amer", "Account", purged_ok=False)


def test_bad_credentials_name_the_org_and_the_variables(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    amer = settings.orgs[0].model_copy(update={"secrets": {**settings.orgs[0].secrets, "client_secret": "wrong"}})
    report = sync(replace(settings, orgs=(amer,)), engine)
    assert [(r.org, r.status) for r in report.objects] == [("amer", "failed")]
    assert report.objects[0].message.startswith("org 'amer': login failed: invalid_client")
    assert "check AMER_CLIENT_ID, AMER_CLIENT_SECRET" in report.objects[0].message


def test_a_suspended_org_is_skipped_and_resumes_from_its_watermark(emulator, engine, database_url):
    from app.warehouse.state import set_suspended

    settings = make_settings(emulator, database_url, objects=("Account",))
    assert sync(settings, engine).ok
    with engine.begin() as conn:
        set_suspended(conn, "emea", True)
    report = sync(settings, engine)
    assert {(r.org, r.status) for r in report.objects} == {("amer", "succeeded"), ("emea", "skipped")}
    with engine.begin() as conn:
        set_suspended(conn, "emea", False)
    report = sync(settings, engine)
    assert {(r.org, r.mode, r.status) for r in report.objects} == {
        ("amer", "incremental", "succeeded"),
        ("emea", "incremental", "succeeded"),
    }


def test_the_watermark_is_the_newest_systemmodstamp_committed(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    assert sync(settings, engine, orgs=("amer",)).ok
    with engine.connect() as conn:
        watermark = conn.execute(text("select watermark from orgfeed.mappings where org = 'amer'")).scalar()
        newest = conn.execute(text("select max(systemmodstamp) from amer.account")).scalar()
    assert watermark == newest and isinstance(watermark, datetime) and watermark.tzinfo is not None


def test_a_session_expiring_mid_run_is_renewed_and_the_call_retried(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Employee",))
    emulator.inject_fault(
        "status",
        path="*/query*",
        count=1,
        status=401,
        error_code="INVALID_SESSION_ID",
        message="Session expired or invalid",
    )
    tokens = count_requests(emulator, "/services/oauth2/token")
    report = sync(settings, engine)
    assert report.ok
    assert tokens() == 3  # each org's login, and one renewal for the org whose query met the 401
    assert [fault["kind"] for fault in emulator.faults.pending()] == [
        "delay"
    ]  # the 401 was met (the rest: the counter)
    assert log_entries(engine, status="Failed") == []
    for org in ("amer", "emea"):
        assert_parity(emulator, engine, org, "Employee", purged_ok=False)


def test_a_dropped_connection_is_retried(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Contact",))
    emulator.inject_fault("drop", path="*/sobjects/Contact/describe*", count=1)
    report = sync(settings, engine)
    assert report.ok
    assert [status for _, _, _, status, *_ in log_entries(engine, status="Retrying")] == ["Retrying"]


def test_an_aborted_bulk_job_falls_back_to_rest(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",), bulk_threshold=0)
    emulator.inject_fault("bulk_aborted", path="*", count=1)
    report = run_sync(settings, engine, SyncOptions(orgs=("emea",)))
    assert report.ok
    assert {code for *_, code, _, _ in log_entries(engine, action="Bulk")} == {"Aborted"}
    assert_parity(emulator, engine, "emea", "Account", purged_ok=False)


def test_an_object_failing_does_not_stop_the_others(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account", "Contact"))
    emulator.inject_fault(
        "status",
        path="*/sobjects/Contact/describe*",
        count=10,
        status=500,
        error_code="UNKNOWN_EXCEPTION",
        message="An unexpected error occurred",
    )
    report = sync(settings, engine)
    assert {(r.org, r.sobject, r.status) for r in report.objects} == {
        ("amer", "Account", "succeeded"),
        ("emea", "Account", "succeeded"),
        ("amer", "Contact", "failed"),
        ("emea", "Contact", "failed"),
    }
    for org in ("amer", "emea"):  # the others did not just succeed: every row of theirs is there
        assert_parity(emulator, engine, org, "Account", purged_ok=False)


def test_a_full_reload_in_hard_delete_mode_keeps_no_deleted_rows(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    settings = replace(settings, orgs=tuple(org.model_copy(update={"delete_mode": "hard"}) for org in settings.orgs))
    doomed = emulator.ids("amer", "Account")[:3]
    emulator.delete("amer", "Account", doomed)  # in the recycle bin: queryAll still returns them
    assert sync(settings, engine, orgs=("amer",), full=True).ok
    with engine.connect() as conn:
        kept = conn.execute(text("select count(*) from amer.account where sfid = any(:ids)"), {"ids": doomed}).scalar()
        live = conn.execute(text("select count(*) from amer.account")).scalar()
    assert kept == 0 and live == len(emulator.ids("amer", "Account"))


def test_an_unexpected_error_in_one_object_fails_only_that_object_and_the_run_is_finished(
    emulator, engine, database_url
):
    settings = make_settings(emulator, database_url, objects=("Account", "Contact"))
    # A describe answered 200 with an error list as its body: nothing orgfeed anticipates.
    emulator.inject_fault(
        "status",
        path="*/sobjects/Contact/describe*",
        count=10,
        status=200,
        error_code="SURPRISE",
        message="not a describe",
    )
    report = sync(settings, engine)
    assert {(r.org, r.sobject, r.status) for r in report.objects} == {
        ("amer", "Account", "succeeded"),
        ("emea", "Account", "succeeded"),
        ("amer", "Contact", "failed"),
        ("emea", "Contact", "failed"),
    }
    contact = next(r for r in report.objects if r.sobject == "Contact")
    assert contact.message.startswith("unexpected TypeError: ")
    assert {code for *_, code, _, _ in log_entries(engine, status="Failed")} == {"INTERNAL_ERROR"}
    with engine.connect() as conn:
        assert tuple(conn.execute(text("select status, finished_at is not null from orgfeed.sync_runs")).one()) == (
            "failed",
            True,
        )


def test_an_unchanged_describe_is_answered_304_and_the_stored_one_is_used(emulator, engine, database_url):
    settings = make_settings(emulator, database_url, objects=("Account",))
    assert sync(settings, engine, orgs=("amer",)).ok
    with engine.begin() as conn:
        stored = conn.execute(
            text("select describe_modified, describe_body from orgfeed.mappings where org = 'amer'")
        ).one()
        assert stored.describe_modified and {f["name"] for f in stored.describe_body["fields"]} >= {
            "Id",
            "Name",
            "Industry",
        }
        # Leave Industry out of the stored copy: only a 304 that reuses it can make the next sync miss the field.
        trimmed = {
            **stored.describe_body,
            "fields": [f for f in stored.describe_body["fields"] if f["name"] != "Industry"],
        }
        conn.execute(
            text("update orgfeed.mappings set describe_body = cast(:body as jsonb) where org = 'amer'"),
            {"body": json.dumps(trimmed)},
        )
    settings = replace(settings, mappings=(settings.mappings[0].model_copy(update={"fields": ("Name", "Industry")}),))
    assert sync(settings, engine, orgs=("amer",)).ok
    assert [(sobject, code) for _, sobject, _, _, code, *_ in log_entries(engine, status="Warning")] == [
        ("Account", "FIELD_NOT_FOUND")
    ]
    emulator.add_field("amer", "Account", "Tier__c", "string", length=10)  # the describe changes: a full body again
    assert sync(settings, engine, orgs=("amer",)).ok
    with engine.connect() as conn:
        names = {
            f["name"]
            for f in conn.execute(text("select describe_body from orgfeed.mappings where org = 'amer'")).scalar()[
                "fields"
            ]
        }
    assert {"Industry", "Tier__c"} <= names
