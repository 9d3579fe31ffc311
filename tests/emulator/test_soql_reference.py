"""Every SOQL construct app/emulator/README.md lists, in the form the SOQL and SOSL Reference documents it.

Each query goes through the real simple-salesforce client over HTTPS; the expected records are
worked out from the emulator's data in plain Python, not by the emulator's SOQL code. Page names
are those of https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from app.emulator import Emulator
from app.emulator.table import Table

Row = Callable[[str], object]  # a row's values by field name


def ids(sf: Salesforce, soql: str) -> list[str]:
    return [record["Id"] for record in sf.query(soql)["records"]]


def expected_ids(emulator: Emulator, sobject: str, keep: Callable[[Row], bool], org: str = "amer") -> list[str]:
    table = emulator.table(org, sobject)
    return [table.record_id(row) for row in table.rows(False) if keep(lambda name, row=row: table.value(row, name))]


def text(value: object) -> str:
    return str(value).lower() if value else ""


# sforce_api_calls_soql_select.htm: SELECT fieldList FROM objectType; names are case-insensitive.
def test_select_returns_the_fields_named_in_order(shared: Emulator, shared_sf: Salesforce) -> None:
    table = shared.table("amer", "Account")
    records = shared_sf.query("SELECT Id, Name, BillingCity FROM Account")["records"]
    assert len(records) == 300
    assert [list(r)[1:] for r in records[:2]] == [["Id", "Name", "BillingCity"]] * 2
    assert [(r["Id"], r["Name"], r["BillingCity"]) for r in records] == [
        (table.record_id(row), table.value(row, "Name"), table.value(row, "BillingCity")) for row in range(300)
    ]
    lower = shared_sf.query("select id, name from account limit 1")["records"][0]
    assert (list(lower)[1:], lower["Id"]) == (["Id", "Name"], table.record_id(0))


# sforce_api_calls_soql_select_count.htm: SELECT COUNT() FROM objectType [WHERE ...].
def test_count_returns_the_number_of_matching_rows(shared: Emulator, shared_sf: Salesforce) -> None:
    result = shared_sf.query("SELECT COUNT() FROM Contact WHERE DoNotCall = true")
    assert result == {
        "totalSize": len(expected_ids(shared, "Contact", lambda v: v("DoNotCall") is True)),
        "done": True,
        "records": [],
    }


# sforce_api_calls_soql_select_comparisonoperators.htm: =, !=, <>, <, <=, >, >=.
@pytest.mark.parametrize(
    ("where", "keep"),
    [
        ("Industry = 'Technology'", lambda v: v("Industry") == "Technology"),
        ("Industry = 'technology'", lambda v: v("Industry") == "Technology"),  # text compares case-insensitively
        ("Rating != 'Hot'", lambda v: v("Rating") != "Hot"),  # nulls too
        ("Rating <> 'Hot'", lambda v: v("Rating") != "Hot"),
        ("NumberOfEmployees > 30000", lambda v: (v("NumberOfEmployees") or 0) > 30000),
        ("NumberOfEmployees <= 3155", lambda v: v("NumberOfEmployees") is not None and v("NumberOfEmployees") <= 3155),
        ("AnnualRevenue >= 100000000", lambda v: v("AnnualRevenue") is not None and v("AnnualRevenue") >= 1e8),
        ("AnnualRevenue < 45590900.5", lambda v: v("AnnualRevenue") is not None and v("AnnualRevenue") < 45590900.5),
        ("Name < 'C'", lambda v: text(v("Name")) < "c"),
    ],
)
def test_comparison_operators(shared: Emulator, shared_sf: Salesforce, where: str, keep) -> None:
    assert ids(shared_sf, f"SELECT Id FROM Account WHERE {where}") == expected_ids(shared, "Account", keep)


# sforce_api_calls_soql_select_comparisonoperators.htm: IN and NOT IN, e.g.
# SELECT Name FROM Account WHERE BillingState IN ('California', 'New York').
def test_in_and_not_in(shared: Emulator, shared_sf: Salesforce) -> None:
    assert ids(shared_sf, "SELECT Id FROM Account WHERE BillingState IN ('CA', 'NY')") == expected_ids(
        shared, "Account", lambda v: v("BillingState") in ("CA", "NY")
    )
    assert ids(shared_sf, "SELECT Id FROM Account WHERE BillingState NOT IN ('CA', 'NY')") == expected_ids(
        shared, "Account", lambda v: v("BillingState") not in ("CA", "NY")
    )


# sforce_api_calls_soql_select_logicaloperators.htm: AND, OR, NOT; parentheses where they mix.
@pytest.mark.parametrize(
    ("where", "keep"),
    [
        ("Type = 'Partner' AND Rating = 'Hot'", lambda v: v("Type") == "Partner" and v("Rating") == "Hot"),
        ("Type = 'Partner' OR Rating = 'Hot'", lambda v: v("Type") == "Partner" or v("Rating") == "Hot"),
        ("NOT Type = 'Partner'", lambda v: v("Type") != "Partner"),
        (
            "(Type = 'Partner' OR Type = 'Customer - Direct') AND (NOT Rating = 'Cold')",
            lambda v: v("Type") in ("Partner", "Customer - Direct") and v("Rating") != "Cold",
        ),
    ],
)
def test_logical_operators(shared: Emulator, shared_sf: Salesforce, where: str, keep) -> None:
    assert ids(shared_sf, f"SELECT Id FROM Account WHERE {where}") == expected_ids(shared, "Account", keep)


# sforce_api_calls_soql_null.htm: = null and != null; a null boolean reads as false.
@pytest.mark.parametrize(
    ("where", "keep"),
    [
        ("Fax = null", lambda v: v("Fax") is None),
        ("Fax != null", lambda v: v("Fax") is not None),
        ("Fax IN ('+1 415 555 2002', null)", lambda v: v("Fax") in (None, "+1 415 555 2002")),
        ("DoNotCall = TRUE", lambda v: v("DoNotCall") is True),
        ("DoNotCall = false", lambda v: not v("DoNotCall")),
    ],
)
def test_null_and_boolean_values(shared: Emulator, shared_sf: Salesforce, where: str, keep) -> None:
    assert ids(shared_sf, f"SELECT Id FROM Contact WHERE {where}") == expected_ids(shared, "Contact", keep)


# sforce_api_calls_soql_select_quotedstringescapes.htm: \' \" \\ \n and \uXXXX inside quotes.
def test_quoted_string_escapes(emulator: Emulator, sf: Salesforce) -> None:
    names = ["Bob's BBQ", 'Say "hi"', "back\\slash", "two\nlines", "Café"]
    inserted = emulator.insert("amer", "Account", [{"Name": name} for name in names])
    literals = [r"'Bob\'s BBQ'", r"'Say \"hi\"'", r"'back\\slash'", r"'two\nlines'", r"'Caf\u00e9'"]
    for record_id, literal in zip(inserted, literals):
        assert ids(sf, f"SELECT Id FROM Account WHERE Name = {literal}") == [record_id]


# sforce_api_calls_soql_select_dateformats.htm: a date (YYYY-MM-DD) for date fields, unquoted.
def test_date_values(shared: Emulator, shared_sf: Salesforce) -> None:
    assert ids(shared_sf, "SELECT Id FROM Contact WHERE Birthdate > 1999-01-01") == expected_ids(
        shared, "Contact", lambda v: v("Birthdate") is not None and v("Birthdate") > date(1999, 1, 1)
    )


# sforce_api_calls_soql_select_dateformats.htm: dateTime as YYYY-MM-DDThh:mm:ss+hh:mm, -hh:mm or Z;
# "SELECT Id FROM Account WHERE CreatedDate > 2005-10-08T01:02:03Z".
@pytest.mark.parametrize("literal", ["1999-01-01T23:01:01+01:00", "1999-01-01T14:01:01-08:00", "1999-01-01T22:01:01Z"])
def test_datetime_values_in_each_documented_form(emulator: Emulator, sf: Salesforce, literal: str) -> None:
    [record_id] = emulator.insert("amer", "Contact", [{"LastName": "Zone", "CreatedDate": "1999-01-01T22:01:01.000Z"}])
    assert ids(sf, f"SELECT Id FROM Contact WHERE CreatedDate = {literal}") == [record_id]
    assert record_id not in ids(sf, f"SELECT Id FROM Contact WHERE CreatedDate > {literal}")
    assert ids(sf, "SELECT Id FROM Account WHERE CreatedDate > 2005-10-08T01:02:03Z") == emulator.ids("amer", "Account")


# sforce_api_calls_soql_select_dateformats.htm, "Date Literals": YESTERDAY, TODAY, TOMORROW,
# LAST_N_DAYS:n, NEXT_N_DAYS:n; = inside the range, > and < on either side.
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = YESTERDAY", ["yesterday"]),
        ("CreatedDate = TODAY", ["today"]),
        ("CreatedDate > TODAY", ["tomorrow", "in a fortnight"]),
        ("CreatedDate = TOMORROW", ["tomorrow"]),
        ("CreatedDate = LAST_N_DAYS:365", ["a month ago", "yesterday", "today"]),
        ("CreatedDate = NEXT_N_DAYS:15", ["tomorrow", "in a fortnight"]),
        ("CreatedDate > NEXT_N_DAYS:7", ["in a fortnight"]),
        ("Birthdate = TODAY", ["today"]),
        ("Birthdate < YESTERDAY", ["a month ago"]),
    ],
)
def test_date_literals(emulator: Emulator, sf: Salesforce, where: str, expected: list[str]) -> None:
    now = emulator.clock.now()
    when = {"a month ago": -30, "yesterday": -1, "today": 0, "tomorrow": 1, "in a fortnight": 14}
    records = [
        {
            "LastName": f"Literal {name}",
            "CreatedDate": (now + timedelta(days=days)).isoformat(),
            "Birthdate": str((now + timedelta(days=days)).date()),
        }
        for name, days in when.items()
    ]
    by_name = dict(zip(when, emulator.insert("amer", "Contact", records)))
    found = ids(sf, f"SELECT Id FROM Contact WHERE {where}")
    assert [record_id for record_id in found if record_id in by_name.values()] == [by_name[name] for name in expected]


# sforce_api_calls_soql_select_orderby.htm: ORDER BY field [ASC|DESC] [NULLS FIRST|NULLS LAST], several keys.
@pytest.mark.parametrize(
    ("order", "descending", "nulls_first"),
    [("Industry", False, True), ("Industry DESC", True, False), ("Industry DESC NULLS FIRST", True, True),
     ("Industry ASC NULLS LAST", False, False)],
)  # fmt: skip
def test_order_by(shared: Emulator, shared_sf: Salesforce, order: str, descending: bool, nulls_first: bool) -> None:
    # Sorting is case-insensitive and stable; the second key (Id) orders the ties.
    table = shared.table("amer", "Account")
    by_id = sorted(range(300), key=table.record_id)
    present = sorted(
        (row for row in by_id if table.value(row, "Industry")),
        key=lambda row: text(table.value(row, "Industry")),
        reverse=descending,
    )
    nulls = [row for row in by_id if not table.value(row, "Industry")]
    expected = nulls + present if nulls_first else present + nulls
    result = ids(shared_sf, f"SELECT Id, Industry FROM Account ORDER BY {order}, Id")
    assert result == [table.record_id(row) for row in expected]


# sforce_api_calls_soql_select_limit.htm and sforce_api_calls_soql_select_offset.htm.
def test_limit_and_offset(shared: Emulator, shared_sf: Salesforce) -> None:
    table = shared.table("amer", "Account")
    technology = expected_ids(shared, "Account", lambda v: v("Industry") == "Technology")
    assert ids(shared_sf, "SELECT Id FROM Account WHERE Industry = 'Technology' LIMIT 5") == technology[:5]
    by_name = sorted(range(300), key=lambda row: (text(table.value(row, "Name")), row))
    paged = ids(shared_sf, "SELECT Id FROM Account ORDER BY Name, Id LIMIT 100 OFFSET 10")
    assert paged == [table.record_id(row) for row in by_name[10:110]]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        shared_sf.query("SELECT Id FROM Account ORDER BY Name LIMIT 100 OFFSET 2001")
    assert refused.value.content == [
        {"message": "Maximum SOQL offset allowed is 2000", "errorCode": "NUMBER_OUTSIDE_VALID_RANGE"}
    ]


# sforce_api_calls_soql_select_comparisonoperators.htm / field types: an ID in 15 or 18 characters.
def test_id_values_in_15_and_18_characters(shared: Emulator, shared_sf: Salesforce) -> None:
    table: Table = shared.table("amer", "Contact")
    record_id = table.record_id(7)
    for literal in (record_id, record_id[:15]):
        assert ids(shared_sf, f"SELECT Id FROM Contact WHERE Id = '{literal}'") == [record_id]
    account = table.value(7, "AccountId")
    assert ids(shared_sf, f"SELECT Id FROM Contact WHERE AccountId = '{account}'") == expected_ids(
        shared, "Contact", lambda v: v("AccountId") == account
    )
