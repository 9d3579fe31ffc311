from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.warehouse import WarehouseError
from app.warehouse.load import LoadResult, RowError, count_rows, find_missing, tombstone, upsert_csv
from app.warehouse.tables import ensure_org_schema, ensure_table
from app.warehouse.types import SourceField, column_for

FIELDS = [
    SourceField("Id", "id", 18),
    SourceField("SystemModstamp", "datetime"),
    SourceField("IsDeleted", "boolean"),
    SourceField("CreatedDate", "datetime"),
    SourceField("Name", "string", 10),
    SourceField("Salary__c", "currency", precision=10, scale=2),
    SourceField("Grade__c", "int"),
    SourceField("Hired__c", "date"),
]
HEADER = b"Id,SystemModstamp,IsDeleted,Name,Salary__c,Grade__c,Hired__c\n"
T1, T2, T3 = "2024-05-01T12:00:00.000Z", "2024-05-02T12:00:00.000Z", "2024-05-03T12:00:00.000Z"


def utc(day: int) -> datetime:
    return datetime(2024, 5, day, 12, tzinfo=UTC)


@pytest.fixture
def employee(conn):
    ensure_org_schema(conn, "emea", "00D000000000001AAA", "emea")
    ensure_table(conn, "emea", "Employee", [column_for(field) for field in FIELDS])
    return conn


def rows(conn):
    return conn.execute(
        text(
            "select sfid, systemmodstamp, isdeleted, name, salary__c::text, grade__c, hired__c::text, "
            "_hc_lastop, _hc_err "
            "from emea.employee order by sfid"
        )
    ).all()


def load(conn, *lines: str, hard_delete: bool = False, header: bytes = HEADER) -> LoadResult:
    document = header + "".join(line + "\n" for line in lines).encode()
    # Chunk boundaries fall mid-line and mid-header, as network reads do.
    chunks = [document[i : i + 7] for i in range(0, len(document), 7)]
    return upsert_csv(conn, "emea", "Employee", chunks, hard_delete=hard_delete)


def test_upsert_inserts_new_rows_with_nulls_for_empty_cells(employee):
    result = load(employee, f"0HnA,{T1},false,Ada,1234.50,3,2020-01-31", f'0HnB,{T1},false,"Grace, H",,"",')
    assert result == LoadResult(rows=2, inserted=2, updated=0, deleted=0, errors=(), max_systemmodstamp=utc(1))
    assert rows(employee) == [
        ("0HnA", utc(1), False, "Ada", "1234.50", 3, "2020-01-31", "INSERTED", None),
        ("0HnB", utc(1), False, "Grace, H", None, None, None, "INSERTED", None),
    ]


def test_upsert_updates_newer_rows_and_ignores_older_ones(employee):
    load(employee, f"0HnA,{T2},false,Ada,1,1,", f"0HnB,{T2},false,Bob,2,2,")
    result = load(employee, f"0HnA,{T3},false,Ada L,10,1,", f"0HnB,{T1},false,Old Bob,0,0,")
    assert result == LoadResult(rows=2, inserted=0, updated=1, deleted=0, errors=(), max_systemmodstamp=utc(3))
    assert rows(employee) == [
        ("0HnA", utc(3), False, "Ada L", "10.00", 1, None, "UPDATED", None),
        ("0HnB", utc(2), False, "Bob", "2.00", 2, None, "INSERTED", None),
    ]


def test_upsert_keeps_the_newest_version_when_a_document_repeats_a_record(employee):
    load(employee, f"0HnA,{T2},false,Second,,,", f"0HnA,{T1},false,First,,,")
    assert [row[:4] for row in rows(employee)] == [("0HnA", utc(2), False, "Second")]


def test_upsert_leaves_columns_missing_from_the_header_alone(employee):
    load(employee, f"0HnA,{T1},false,Ada,5,1,2020-01-31")
    load(employee, f"0HnA,{T2},Ada K", header=b"Id,SystemModstamp,Name\n")
    assert rows(employee) == [("0HnA", utc(2), False, "Ada K", "5.00", 1, "2020-01-31", "UPDATED", None)]


def test_soft_delete_marks_rows_and_undelete_brings_them_back(employee):
    load(employee, f"0HnA,{T1},false,Ada,,,", f"0HnB,{T1},false,Bob,,,")
    deleted = load(employee, f"0HnA,{T2},true,Ada,,,")
    assert (deleted.updated, deleted.deleted) == (0, 1)
    assert [row[:3] + row[7:8] for row in rows(employee)] == [
        ("0HnA", utc(2), True, "DELETED"),
        ("0HnB", utc(1), False, "INSERTED"),
    ]
    assert count_rows(employee, "emea", "Employee") == (1, 0)
    undeleted = load(employee, f"0HnA,{T3},false,Ada,,,")
    assert (undeleted.updated, undeleted.deleted) == (1, 0)
    assert [row[:3] + row[7:8] for row in rows(employee)] == [
        ("0HnA", utc(3), False, "UPDATED"),
        ("0HnB", utc(1), False, "INSERTED"),
    ]


def test_hard_delete_removes_rows_and_skips_deleted_newcomers(employee):
    load(employee, f"0HnA,{T1},false,Ada,,,", f"0HnB,{T1},false,Bob,,,")
    result = load(
        employee, f"0HnA,{T2},true,Ada,,,", f"0HnC,{T2},true,Cy,,,", f"0HnB,{T1},false,Bob,,,", hard_delete=True
    )
    assert (result.rows, result.inserted, result.updated, result.deleted) == (3, 0, 1, 1)
    assert [row[0] for row in rows(employee)] == ["0HnB"]


def test_a_bad_value_mid_document_is_reported_and_the_other_rows_load(employee):
    result = load(
        employee,
        f"0HnA,{T1},false,Ada,1,1,2020-01-01",
        f"0HnB,{T1},false,Bob,2,2,2020-01-02",
        f"0HnC,{T2},false,Far too long a name,not a number,3,2020-02-30",
        f"0HnD,{T1},false,Dee,4,1.0E3,2020-01-04",
        "0HnE,,false,Eve,5,5,",
        f"0HnF,{T1},false,Fay,99999999999,6,2020-01-06",
    )
    assert result.errors == (
        RowError("0HnC", "name", "Far too long a name", "value too long for type character varying(10)"),
        RowError("0HnC", "salary__c", "not a number", 'invalid input syntax for type numeric: "not a number"'),
        RowError("0HnC", "hired__c", "2020-02-30", 'date/time field value out of range: "2020-02-30"'),
        RowError("0HnE", "systemmodstamp", "", "a required value is missing: row skipped"),
        RowError("0HnF", "salary__c", "99999999999", "numeric field overflow"),
    )
    assert (result.rows, result.inserted, result.max_systemmodstamp) == (6, 5, utc(2))
    name_error = (
        '{"column": "name", "value": "Far too long a name", "error": "value too long for type character varying(10)"}'
    )
    overflow = '{"column": "salary__c", "value": "99999999999", "error": "numeric field overflow"}'
    assert rows(employee) == [
        ("0HnA", utc(1), False, "Ada", "1.00", 1, "2020-01-01", "INSERTED", None),
        ("0HnB", utc(1), False, "Bob", "2.00", 2, "2020-01-02", "INSERTED", None),
        ("0HnC", utc(2), False, None, None, 3, None, "INSERTED", name_error),
        ("0HnD", utc(1), False, "Dee", "4.00", 1000, "2020-01-04", "INSERTED", None),
        ("0HnF", utc(1), False, "Fay", None, 6, "2020-01-06", "INSERTED", overflow),
    ]
    assert count_rows(employee, "emea", "Employee") == (5, 2)


def test_a_later_good_value_clears_the_row_error(employee):
    load(employee, f"0HnA,{T1},false,Ada,oops,,")
    load(employee, f"0HnA,{T2},false,Ada,7,,")
    assert rows(employee) == [("0HnA", utc(2), False, "Ada", "7.00", None, None, "UPDATED", None)]


def test_header_naming_an_unmapped_field_is_refused(employee):
    with pytest.raises(WarehouseError, match=r"fields without a column \['Nickname'\]"):
        load(employee, f"0HnA,{T1},Al", header=b"Id,SystemModstamp,Nickname\n")


def test_malformed_csv_is_refused_with_the_table_named(employee):
    with pytest.raises(WarehouseError, match=r"the CSV document for emea\.employee is malformed"):
        load(employee, f"0HnA,{T1},false,Ada,1,1,2020-01-01,extra")


def test_empty_document_loads_nothing(employee):
    assert upsert_csv(employee, "emea", "Employee", [b""]) == LoadResult(0, 0, 0, 0, (), None)
    assert load(employee) == LoadResult(0, 0, 0, 0, (), None)


def test_tombstone_soft_marks_only_live_rows(employee):
    load(employee, f"0HnA,{T1},false,A,,,", f"0HnB,{T1},false,B,,,", f"0HnC,{T1},true,C,,,")
    assert tombstone(employee, "emea", "Employee", ["0HnA", "0HnC", "0HnZ"], hard=False) == 1
    assert [(row[0], row[2], row[7]) for row in rows(employee)] == [
        ("0HnA", True, "DELETED"),
        ("0HnB", False, "INSERTED"),
        ("0HnC", True, "DELETED"),
    ]


def test_tombstone_hard_removes_rows(employee):
    load(employee, f"0HnA,{T1},false,A,,,", f"0HnB,{T1},false,B,,,")
    assert tombstone(employee, "emea", "Employee", iter(["0HnB"]), hard=True) == 1
    assert [row[0] for row in rows(employee)] == ["0HnA"]


def test_find_missing_returns_live_rows_salesforce_no_longer_has(employee):
    load(employee, f"0HnA,{T1},false,A,,,", f"0Hnb,{T1},false,b,,,", f"0HnB,{T1},false,B,,,", f"0HnD,{T1},true,D,,,")
    live = (f"0Hn{letter}" for letter in "AXYZ")
    assert find_missing(employee, "emea", "Employee", live) == ["0HnB", "0Hnb"]
