"""One record's mirror row refreshed from the REST API's record, deleted, and its write lock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.warehouse.record import mark_record_deleted, read_systemmodstamp, refresh_record_row
from app.warehouse.tables import ensure_org_schema, ensure_table
from app.warehouse.types import SourceField, column_for

FIELDS = [
    SourceField("Id", "id", 18),
    SourceField("SystemModstamp", "datetime"),
    SourceField("IsDeleted", "boolean"),
    SourceField("CreatedDate", "datetime"),
    SourceField("Name", "string", 10),
    SourceField("Salary__c", "currency", precision=10, scale=2),
    SourceField("Hired__c", "date"),
    SourceField("Active__c", "boolean"),
]
SFID = "a00000000000001AAA"


def record(stamp: str, **values) -> dict:
    """A record as the REST API returns it: every field, JSON values, compound fields as objects."""
    return {
        "attributes": {"type": "Employee", "url": f"/services/data/v62.0/sobjects/Employee/{SFID}"},
        "Id": SFID,
        "SystemModstamp": stamp,
        "IsDeleted": False,
        "CreatedDate": "2024-05-01T12:00:00.000+0000",
        "Name": "Ada",
        "Salary__c": "1234.50",
        "Hired__c": "2024-05-01",
        "Active__c": True,
        "NotMapped__c": "ignored",
        "MailingAddress": {"city": "Paris"},
        **values,
    }


@pytest.fixture
def employee(conn):
    ensure_org_schema(conn, "emea", "00D000000000001AAA", "emea")
    ensure_table(conn, "emea", "Employee", [column_for(field) for field in FIELDS])
    return conn


def row(conn):
    return conn.execute(
        text(
            "select sfid, systemmodstamp, isdeleted, name, salary__c::text, hired__c::text, active__c, _hc_lastop "
            "from emea.employee"
        )
    ).one()


def test_a_new_record_is_inserted_with_its_values_converted(employee):
    assert refresh_record_row(employee, "emea", "Employee", record("2024-05-02T12:00:00.000+0000"))
    assert tuple(row(employee)) == (
        SFID,
        datetime(2024, 5, 2, 12, tzinfo=UTC),
        False,
        "Ada",
        "1234.50",
        "2024-05-01",
        True,
        "INSERTED",
    )


def test_a_newer_record_replaces_the_row_an_older_one_does_not(employee):
    refresh_record_row(employee, "emea", "Employee", record("2024-05-02T12:00:00.000+0000"))
    assert refresh_record_row(employee, "emea", "Employee", record("2024-05-03T12:00:00.000+0000", Name=None))
    assert row(employee).name is None and row(employee)._hc_lastop == "UPDATED"
    assert not refresh_record_row(employee, "emea", "Employee", record("2024-05-02T13:00:00.000+0000", Name="Old"))
    assert row(employee).name is None
    assert read_systemmodstamp(employee, "emea", "Employee", SFID) == datetime(2024, 5, 3, 12, tzinfo=UTC)


def test_a_deleted_record_is_marked_or_removed(employee):
    refresh_record_row(employee, "emea", "Employee", record("2024-05-02T12:00:00.000+0000"))
    assert mark_record_deleted(employee, "emea", "Employee", SFID, hard=False)
    assert row(employee).isdeleted is True and row(employee)._hc_lastop == "DELETED"
    assert mark_record_deleted(employee, "emea", "Employee", SFID, hard=True)
    assert read_systemmodstamp(employee, "emea", "Employee", SFID) is None
    assert not mark_record_deleted(employee, "emea", "Employee", SFID, hard=True)
