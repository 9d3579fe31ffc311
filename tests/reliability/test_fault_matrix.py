"""A fault matrix: each emulator fault in the middle of a sync that has work to do, then a clean run to parity.

Every case starts from a mirrored org that then changed (updates, a delete, an insert), injects
one fault, and checks the faulted run's outcome exactly: each object's status and the sync-log
entries it wrote (org, object, status, error code). The run after it, with no fault, must reach
exact parity. tests/sync/test_sync.py covers several of these faults on a first load; here each
one hits a running incremental sync (or a --full reload for the Bulk faults) and must converge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import text

from app.sync.report import SyncOptions
from app.sync.run import run_sync
from tests.support.configs import OBJECTS, make_settings
from tests.support.parity import assert_parity


@dataclass(frozen=True)
class Case:
    fault: dict
    statuses: dict[str, str]  # object -> report status of the faulted run (org amer only)
    log: list[tuple[str, str, str | None]]  # (object, status, error code) of the faulted run, sorted
    objects: tuple[str, ...] = ("Account", "Contact")
    full: bool = False
    sync: dict = field(default_factory=dict)
    message: str = ""  # a substring of the failed or throttled object's report message


QUERY = "*/queryAll*"  # the incremental select (counts use `query`)
CASES = {
    "invalid_session_mid_run": Case(
        {
            "kind": "status",
            "path": QUERY,
            "status": 401,
            "error_code": "INVALID_SESSION_ID",
            "message": "Session expired or invalid",
        },
        {"Account": "succeeded", "Contact": "succeeded"},
        [],
    ),
    "request_limit_exceeded": Case(
        {
            "kind": "status",
            "path": QUERY,
            "status": 403,
            "error_code": "REQUEST_LIMIT_EXCEEDED",
            "message": "TotalRequests Limit exceeded.",
        },
        {"Account": "throttled"},
        [("Account", "Throttled", "REQUEST_LIMIT_EXCEEDED")],
        objects=("Account",),
        message="REQUEST_LIMIT_EXCEEDED",
    ),
    "http_500_twice": Case(
        {"kind": "status", "path": QUERY, "count": 2, "status": 500, "error_code": "UNKNOWN_EXCEPTION"},
        {"Account": "succeeded"},
        [("Account", "Retrying", None)] * 2,
        objects=("Account",),
    ),
    "http_503_twice": Case(
        {"kind": "status", "path": QUERY, "count": 2, "status": 503, "error_code": "SERVER_UNAVAILABLE"},
        {"Account": "succeeded"},
        [("Account", "Retrying", None)] * 2,
        objects=("Account",),
    ),
    "http_503_until_retries_run_out": Case(
        {"kind": "status", "path": QUERY, "count": 5, "status": 503, "error_code": "SERVER_UNAVAILABLE"},
        {"Account": "failed"},
        sorted([("Account", "Retrying", None)] * 4 + [("Account", "Failed", "RETRIES_EXHAUSTED")]),
        objects=("Account",),
        message="failed 5 times, last: HTTP 503 SERVER_UNAVAILABLE",
    ),
    "delay_past_the_client_timeout": Case(
        {"kind": "delay", "path": QUERY, "seconds": 3},
        {"Account": "succeeded"},
        [("Account", "Retrying", None)],
        objects=("Account",),
        sync={"request_timeout_seconds": 1},
    ),
    "dropped_connection": Case(
        {"kind": "drop", "path": QUERY}, {"Account": "succeeded"}, [("Account", "Retrying", None)], objects=("Account",)
    ),
    "malformed_json_query_page": Case(
        {"kind": "malformed", "path": QUERY},
        {"Account": "succeeded"},
        [("Account", "Retrying", None)],
        objects=("Account",),
    ),
    "malformed_json_describe": Case(
        {"kind": "malformed", "path": "*/sobjects/Account/describe*"},
        {"Account": "succeeded"},
        [("Account", "Retrying", None)],
        objects=("Account",),
    ),
    "malformed_json_bulk_job_status": Case(
        {"kind": "malformed", "path": "*/jobs/query/*", "method": "GET"},
        {"Employee": "succeeded"},
        [("Employee", "Retrying", None)],
        objects=("Employee",),
        full=True,
        sync={"bulk_threshold": 0},
    ),
    "malformed_json_token": Case(
        {"kind": "malformed", "path": "/services/oauth2/token"},
        {"Account": "failed"},
        [(None, "Failed", "MALFORMED_RESPONSE")],
        objects=("Account",),
        message="login failed: the token endpoint",
    ),
    "bulk_job_failed": Case(
        {"kind": "bulk_failed"},
        {"Employee": "succeeded"},
        [("Employee", "Warning", "Failed")],
        objects=("Employee",),
        full=True,
        sync={"bulk_threshold": 0},
    ),
    "bulk_job_aborted": Case(
        {"kind": "bulk_aborted"},
        {"Employee": "succeeded"},
        [("Employee", "Warning", "Aborted")],
        objects=("Employee",),
        full=True,
        sync={"bulk_threshold": 0},
    ),
    "describe_failing": Case(
        {
            "kind": "status",
            "path": "*/sobjects/Contact/describe*",
            "count": 5,
            "status": 500,
            "error_code": "UNKNOWN_EXCEPTION",
        },
        {"Account": "succeeded", "Contact": "failed"},
        sorted([("Contact", "Retrying", None)] * 4 + [("Contact", "Failed", "RETRIES_EXHAUSTED")]),
        message="describe Contact failed 5 times",
    ),
    "describe_refused": Case(
        {
            "kind": "status",
            "path": "*/sobjects/Contact/describe*",
            "status": 404,
            "error_code": "NOT_FOUND",
            "message": "The requested resource does not exist",
        },
        {"Account": "succeeded", "Contact": "failed"},
        [("Contact", "Failed", "NOT_FOUND")],
        message="describe Contact: NOT_FOUND: The requested resource does not exist",
    ),
    "deleted_endpoint_failing": Case(
        {
            "kind": "status",
            "path": "*/sobjects/Account/deleted*",
            "count": 5,
            "status": 503,
            "error_code": "SERVER_UNAVAILABLE",
        },
        {"Account": "succeeded"},
        sorted([("Account", "Retrying", None)] * 4 + [("Account", "Warning", "RETRIES_EXHAUSTED")]),
        objects=("Account",),
    ),
}


def change_the_orgs(emu, objects) -> None:
    """An update, a delete and an insert in every object of both orgs: work for the faulted run."""
    for org in ("amer", "emea"):
        for sobject in objects:
            ids = emu.ids(org, sobject)
            name_field = "Name" if sobject == "Account" else "LastName"
            emu.update(org, sobject, [{"Id": ids[0], name_field: "Faulted"}, {"Id": ids[1], name_field: "Faulted too"}])
            emu.delete(org, sobject, [ids[2]])
            required = (
                {"Email": f"new@{org}.example.com", "EmployeeNumber": f"NEW-{org}", "EmployeeStatus": "Active"}
                if sobject == "Employee"
                else {}
            )
            emu.insert(org, sobject, [{name_field: f"Inserted in {org}", **required}])
    emu.advance_clock(60)


def run_log(engine, run_id: int) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(
            tuple(row)
            for row in conn.execute(
                text("select sobject, status, error_code from orgfeed.sync_log where run_id = :run and org = 'amer'"),
                {"run": run_id},
            ).all()
        )


@pytest.mark.parametrize("name", list(CASES))
def test_a_fault_mid_run_is_survived_or_reported_and_the_next_run_converges(name, emulator, engine, database_url):
    case = CASES[name]
    settings = make_settings(emulator, database_url, objects=case.objects, **case.sync)
    first = run_sync(settings, engine)
    assert first.ok, [(r.org, r.sobject, r.status, r.message) for r in first.objects]
    change_the_orgs(emulator, case.objects)
    emulator.inject_fault(**case.fault)

    faulted = run_sync(settings, engine, SyncOptions(orgs=("amer",), full=case.full))

    assert {r.sobject: r.status for r in faulted.objects} == case.statuses, [
        (r.sobject, r.status, r.message) for r in faulted.objects
    ]
    assert run_log(engine, faulted.run_id) == case.log
    if case.message:
        [reported] = [r for r in faulted.objects if r.status in ("failed", "throttled")]
        assert case.message in reported.message, reported.message
    assert emulator.faults.pending() == []  # the fault was met, not dodged
    emulator.advance_clock(60)
    after = run_sync(settings, engine)
    assert after.ok, [(r.org, r.sobject, r.status, r.message) for r in after.objects]
    for org in ("amer", "emea"):
        for sobject in case.objects:
            assert_parity(emulator, engine, org, sobject)


def test_the_matrix_covers_every_fault_kind_of_the_emulator():
    from app.emulator.faults import BULK_KINDS, REQUEST_KINDS

    assert {case.fault["kind"] for case in CASES.values()} == set(REQUEST_KINDS + BULK_KINDS)
    assert set(OBJECTS) >= {sobject for case in CASES.values() for sobject in case.objects}
