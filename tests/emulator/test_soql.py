"""The emulator's SOQL subset: exact syntax trees, exact Salesforce errors, exact result order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.emulator.soql.execute import (
    And,
    Comparison,
    CompiledQuery,
    Not,
    Or,
    OrderItem,
    RelativeDate,
    SoqlError,
    SoqlQuery,
    compile_query,
    make_invalid_type_error,
    parse_soql,
)

NOW = datetime(2024, 3, 10, 15, 30, tzinfo=UTC)
FIELD_TYPES = {
    "Id": "id",
    "Name": "string",
    "Industry": "picklist",
    "AnnualRevenue": "currency",
    "NumberOfEmployees": "int",
    "IsDeleted": "boolean",
    "CloseDate__c": "date",
    "SystemModstamp": "datetime",
    "OpenTime__c": "time",
    "ParentId": "reference",
    "BillingAddress": "address",
    "Tags__c": "multipicklist",
}
RECORDS = [
    {
        "Id": "r1",
        "Name": "Acme",
        "Industry": "Tech",
        "AnnualRevenue": 100.0,
        "NumberOfEmployees": 10,
        "IsDeleted": False,
        "CloseDate__c": date(2024, 3, 10),
        "SystemModstamp": datetime(2024, 3, 10, 9, tzinfo=UTC),
    },
    {
        "Id": "r2",
        "Name": "acme",
        "Industry": None,
        "AnnualRevenue": 250.5,
        "NumberOfEmployees": 3,
        "IsDeleted": True,
        "CloseDate__c": date(2024, 3, 9),
        "SystemModstamp": datetime(2024, 3, 9, 23, 59, 59, tzinfo=UTC),
    },
    {
        "Id": "r3",
        "Name": "Globex",
        "Industry": "Energy",
        "AnnualRevenue": None,
        "NumberOfEmployees": None,
        "IsDeleted": False,
        "CloseDate__c": date(2024, 3, 11),
        "SystemModstamp": datetime(2024, 3, 11, tzinfo=UTC),
    },
    {
        "Id": "r4",
        "Industry": "tech",
        "AnnualRevenue": 100.0,
        "IsDeleted": None,
        "CloseDate__c": date(2024, 2, 1),
        "SystemModstamp": None,
    },
    {
        "Id": "r5",
        "Name": "",
        "Industry": "Retail",
        "AnnualRevenue": 0.0,
        "NumberOfEmployees": 0,
        "IsDeleted": False,
        "CloseDate__c": date(2024, 3, 20),
        "SystemModstamp": datetime(2024, 3, 3, tzinfo=UTC),
    },
    {
        "Id": "r6",
        "Name": "Initech",
        "Industry": "Tech",
        "AnnualRevenue": 75.25,
        "NumberOfEmployees": 50,
        "IsDeleted": False,
        "CloseDate__c": None,
        "SystemModstamp": datetime(2024, 3, 2, 23, 59, 59, tzinfo=UTC),
    },
]
ID_A, ID_B, ID_C = "001Xx000003DGbAIAW", "001Xx000003DGbbIAG", "001Xx000003DGbCIAW"
ID_RECORDS = [
    {"Id": ID_A, "ParentId": None},
    {"Id": ID_B, "ParentId": ID_A},
    {"Id": ID_C, "ParentId": ID_A},
]
LONG_DETAIL = (
    "No such column 'Bacon__c' on entity 'Account'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)


def query(sobject: str = "Account", fields: tuple[str, ...] = ("Id",), **clauses: object) -> SoqlQuery:
    """Return the SoqlQuery a test expects, with SOQL's empty clauses as defaults."""
    parts: dict[str, object] = {"is_count": False, "where": None, "order_by": (), "limit": None, "offset": None}
    parts.update(clauses)
    return SoqlQuery(sobject=sobject, fields=fields, **parts)  # type: ignore[arg-type]


def compile_text(text: str) -> CompiledQuery:
    """Return `text` parsed and compiled against the test object at NOW."""
    return compile_query(parse_soql(text), FIELD_TYPES, sobject_name="Account", now=NOW)


def select_ids(text: str, records: list[dict[str, object]]) -> list[object]:
    """Return the Ids the query answers over `records`, in answer order."""
    return [record["Id"] for record in compile_text(text).select(records)]


def assert_error(error: SoqlError, text: str, code: str, token: str | None, detail: str) -> None:
    """Assert the code, the last message line, and the caret's column at the first `token` in `text`."""
    assert error.error_code == code
    assert error.message.rsplit("\n", 1)[-1] == detail
    if token is not None:
        column = text.index(token) + 1
        assert f"\nERROR at Row:1:Column:{column}\n" in error.message


def where(condition: object) -> SoqlQuery:
    """Return `SELECT Id FROM Account WHERE condition` as the parser should build it."""
    return query(where=condition)


PARSE_CASES = [
    ("SELECT Id FROM Account", query()),
    ("select id, Name , custom_field__c from account", query("account", ("id", "Name", "custom_field__c"))),
    ("SELECT Id\nFROM Account\nWHERE Name = 'x'", where(Comparison("Name", "=", "x"))),
    ("SELECT COUNT() FROM Employee", query("Employee", (), is_count=True)),
    ("Select Count ( ) From Account Limit 5", query("Account", (), is_count=True, limit=5)),
    ("SELECT Id FROM Order ORDER BY Id", query("Order", order_by=(OrderItem("Id", False, True),))),
    ("SELECT Id FROM Account WHERE Name != 'a'", where(Comparison("Name", "!=", "a"))),
    ("SELECT Id FROM Account WHERE Name <> 'a'", where(Comparison("Name", "!=", "a"))),
    ("SELECT Id FROM Account WHERE X__c<5", where(Comparison("X__c", "<", 5))),
    ("SELECT Id FROM Account WHERE X__c <= 5", where(Comparison("X__c", "<=", 5))),
    ("SELECT Id FROM Account WHERE X__c > -5", where(Comparison("X__c", ">", -5))),
    ("SELECT Id FROM Account WHERE X__c >= +5.50", where(Comparison("X__c", ">=", Decimal("5.50")))),
    ("SELECT Id FROM Account WHERE X__c = -0.25", where(Comparison("X__c", "=", Decimal("-0.25")))),
    ("SELECT Id FROM Account WHERE IsDeleted = TRUE", where(Comparison("IsDeleted", "=", True))),
    ("SELECT Id FROM Account WHERE IsDeleted = false", where(Comparison("IsDeleted", "=", False))),
    ("SELECT Id FROM Account WHERE Name = NULL", where(Comparison("Name", "=", None))),
    ("SELECT Id FROM Account WHERE Name IN ('a', 'b', null)", where(Comparison("Name", "IN", ("a", "b", None)))),
    ("SELECT Id FROM Account WHERE Name not in ('a')", where(Comparison("Name", "NOT IN", ("a",)))),
    ("SELECT Id FROM Account WHERE D__c = 2024-02-29", where(Comparison("D__c", "=", date(2024, 2, 29)))),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-01-02T03:04:05Z",
        where(Comparison("T__c", ">", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))),
    ),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-01-02T03:04:05.123Z",
        where(Comparison("T__c", ">", datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC))),
    ),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-01-02T03:04:05.5+01:30",
        where(
            Comparison(
                "T__c", ">", datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=timezone(timedelta(hours=1, minutes=30)))
            )
        ),
    ),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-01-02T03:04:05-08:00",
        where(Comparison("T__c", ">", datetime(2024, 1, 2, 11, 4, 5, tzinfo=UTC))),
    ),
    # Fractions of a second of any length (the W3C XML Schema dateTime the reference points to), as
    # extractors write saved positions; past microseconds the digits are dropped.
    (
        "SELECT Id FROM Account WHERE SystemModstamp >= 2024-12-26T22:28:00.000000Z",
        where(Comparison("SystemModstamp", ">=", datetime(2024, 12, 26, 22, 28, tzinfo=UTC))),
    ),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-12-26T22:28:00.123456-06:00",
        where(Comparison("T__c", ">", datetime(2024, 12, 27, 4, 28, 0, 123456, tzinfo=UTC))),
    ),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-12-26T22:28:00.1234567+08:00",
        where(Comparison("T__c", ">", datetime(2024, 12, 26, 14, 28, 0, 123456, tzinfo=UTC))),
    ),
    (
        "SELECT Id FROM Account WHERE T__c < 1999-01-01T23:01:01+01:00",
        where(Comparison("T__c", "<", datetime(1999, 1, 1, 22, 1, 1, tzinfo=UTC))),
    ),
    ("SELECT Id FROM Account WHERE D__c = today", where(Comparison("D__c", "=", RelativeDate("TODAY")))),
    ("SELECT Id FROM Account WHERE D__c = YESTERDAY", where(Comparison("D__c", "=", RelativeDate("YESTERDAY")))),
    ("SELECT Id FROM Account WHERE D__c = Tomorrow", where(Comparison("D__c", "=", RelativeDate("TOMORROW")))),
    (
        "SELECT Id FROM Account WHERE D__c = LAST_N_DAYS:30",
        where(Comparison("D__c", "=", RelativeDate("LAST_N_DAYS", 30))),
    ),
    (
        "SELECT Id FROM Account WHERE D__c > next_n_days:0",
        where(Comparison("D__c", ">", RelativeDate("NEXT_N_DAYS", 0))),
    ),
    (
        "SELECT Id FROM Account WHERE D__c IN (TODAY, 2024-01-01)",
        where(Comparison("D__c", "IN", (RelativeDate("TODAY"), date(2024, 1, 1)))),
    ),
    (
        "SELECT Id FROM Account WHERE a = 1 AND b = 2 and c = 3",
        where(And((Comparison("a", "=", 1), Comparison("b", "=", 2), Comparison("c", "=", 3)))),
    ),
    ("SELECT Id FROM Account WHERE a = 1 OR b = 2", where(Or((Comparison("a", "=", 1), Comparison("b", "=", 2))))),
    (
        "SELECT Id FROM Account WHERE a = 1 AND (b = 2 OR c = 3)",
        where(And((Comparison("a", "=", 1), Or((Comparison("b", "=", 2), Comparison("c", "=", 3)))))),
    ),
    (
        "SELECT Id FROM Account WHERE (a = 1 AND b = 2) OR c = 3",
        where(Or((And((Comparison("a", "=", 1), Comparison("b", "=", 2))), Comparison("c", "=", 3)))),
    ),
    ("SELECT Id FROM Account WHERE NOT a = 1", where(Not(Comparison("a", "=", 1)))),
    (
        "SELECT Id FROM Account WHERE NOT (a = 1 OR b = 2)",
        where(Not(Or((Comparison("a", "=", 1), Comparison("b", "=", 2))))),
    ),
    (
        "SELECT Id FROM Account WHERE a = 1 AND (NOT b = 2)",
        where(And((Comparison("a", "=", 1), Not(Comparison("b", "=", 2))))),
    ),
    ("SELECT Id FROM Account WHERE ((a = 1))", where(Comparison("a", "=", 1))),
    (
        "SELECT Id FROM Account WHERE (a = 1 OR (b = 2 AND (c = 3 OR (NOT d = 4))))",
        where(
            Or(
                (
                    Comparison("a", "=", 1),
                    And((Comparison("b", "=", 2), Or((Comparison("c", "=", 3), Not(Comparison("d", "=", 4)))))),
                )
            )
        ),
    ),
    ("SELECT Id FROM Account ORDER BY Name", query(order_by=(OrderItem("Name", False, True),))),
    ("SELECT Id FROM Account ORDER BY Name asc", query(order_by=(OrderItem("Name", False, True),))),
    ("SELECT Id FROM Account ORDER BY Name DESC", query(order_by=(OrderItem("Name", True, False),))),
    ("SELECT Id FROM Account ORDER BY Name NULLS LAST", query(order_by=(OrderItem("Name", False, False),))),
    (
        "SELECT Id FROM Account ORDER BY Name DESC NULLS FIRST, Id",
        query(order_by=(OrderItem("Name", True, True), OrderItem("Id", False, True))),
    ),
    ("SELECT Id FROM Account LIMIT 10", query(limit=10)),
    ("SELECT Id FROM Account OFFSET 2000", query(offset=2000)),
    (
        "SELECT Id FROM Account WHERE a = 1 ORDER BY Id LIMIT 0 OFFSET 3",
        query(where=Comparison("a", "=", 1), order_by=(OrderItem("Id", False, True),), limit=0, offset=3),
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_soql_returns_the_exact_tree(text: str, expected: SoqlQuery) -> None:
    assert parse_soql(text) == expected


STRING_CASES = [
    (r"'plain'", "plain"),
    (r"'Bob\'s BBQ'", "Bob's BBQ"),
    (r"'say \"hi\"'", 'say "hi"'),
    (r"'a\\b'", "a\\b"),
    (r"'1\n2\N3'", "1\n2\n3"),
    (r"'1\r2\R3'", "1\r2\r3"),
    (r"'1\t2\T3'", "1\t2\t3"),
    (r"'1\b2\B3'", "1\b2\b3"),
    (r"'1\f2\F3'", "1\f2\f3"),
    (r"'caf\u00e9'", "café"),
    (r"''", ""),
    ("'WHERE ( ) , = keywords stay text'", "WHERE ( ) , = keywords stay text"),
]


@pytest.mark.parametrize(("literal", "value"), STRING_CASES)
def test_parse_soql_decodes_quoted_string_escapes(literal: str, value: str) -> None:
    assert parse_soql(f"SELECT Id FROM Account WHERE Name = {literal}") == where(Comparison("Name", "=", value))


REJECT_CASES = [
    # (query, error code, offending token the caret points at, last message line)
    (
        "SELECT Account.Name FROM Contact",
        "MALFORMED_QUERY",
        "Account.Name",
        "unexpected token: 'Account.Name' (relationship paths are not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Contact WHERE Account.Name = 'x'",
        "MALFORMED_QUERY",
        "Account.Name",
        "unexpected token: 'Account.Name' (relationship paths are not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Contact ORDER BY Account.Name",
        "MALFORMED_QUERY",
        "Account.Name",
        "unexpected token: 'Account.Name' (relationship paths are not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "MALFORMED_QUERY",
        "(",
        "unexpected token: '(' (subqueries are not supported by the orgfeed emulator)",
    ),
    (
        "SELECT COUNT(Id) FROM Account",
        "MALFORMED_QUERY",
        "COUNT",
        "unexpected token: 'COUNT' (aggregate functions other than COUNT() are not supported by the orgfeed emulator)",
    ),
    (
        "SELECT SUM(Amount) FROM Account",
        "MALFORMED_QUERY",
        "SUM",
        "unexpected token: 'SUM' (functions are not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id, COUNT() FROM Account",
        "MALFORMED_QUERY",
        "COUNT",
        "unexpected token: 'COUNT' (COUNT() outside a SELECT list of its own is not supported by the orgfeed emulator)",
    ),
    ("SELECT COUNT(), Id FROM Account", "MALFORMED_QUERY", ",", "unexpected token: ','"),
    (
        "SELECT COUNT() FROM Account ORDER BY Id",
        "MALFORMED_QUERY",
        "ORDER",
        "unexpected token: 'ORDER' (COUNT() can't be ordered)",
    ),
    (
        "SELECT FIELDS(ALL) FROM Account LIMIT 200",
        "MALFORMED_QUERY",
        "FIELDS",
        "unexpected token: 'FIELDS' (FIELDS() is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT TYPEOF What WHEN Account THEN Phone END FROM Event",
        "MALFORMED_QUERY",
        "TYPEOF",
        "unexpected token: 'TYPEOF' (TYPEOF is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Industry FROM Account GROUP BY Industry",
        "MALFORMED_QUERY",
        "GROUP",
        "unexpected token: 'GROUP' (GROUP BY is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account HAVING Id = null",
        "MALFORMED_QUERY",
        "HAVING",
        "unexpected token: 'HAVING' (HAVING is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account WITH SECURITY_ENFORCED",
        "MALFORMED_QUERY",
        "WITH",
        "unexpected token: 'WITH' (WITH is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account LIMIT 1 FOR VIEW",
        "MALFORMED_QUERY",
        "FOR",
        "unexpected token: 'FOR' (FOR VIEW/REFERENCE/UPDATE is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account FOR UPDATE",
        "MALFORMED_QUERY",
        "FOR",
        "unexpected token: 'FOR' (FOR VIEW/REFERENCE/UPDATE is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account USING SCOPE Mine",
        "MALFORMED_QUERY",
        "USING",
        "unexpected token: 'USING' (USING SCOPE is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account WHERE Name LIKE 'a%'",
        "MALFORMED_QUERY",
        "LIKE",
        "unexpected token: 'LIKE' (LIKE is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account WHERE Tags__c INCLUDES ('a')",
        "MALFORMED_QUERY",
        "INCLUDES",
        "unexpected token: 'INCLUDES' (INCLUDES is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account WHERE Tags__c EXCLUDES ('a')",
        "MALFORMED_QUERY",
        "EXCLUDES",
        "unexpected token: 'EXCLUDES' (EXCLUDES is not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)",
        "MALFORMED_QUERY",
        "SELECT AccountId",
        "unexpected token: 'SELECT' (semi-joins and anti-joins are not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account WHERE Id NOT IN (SELECT AccountId FROM Contact)",
        "MALFORMED_QUERY",
        "SELECT AccountId",
        "unexpected token: 'SELECT' (semi-joins and anti-joins are not supported by the orgfeed emulator)",
    ),
    (
        "SELECT Id FROM Account WHERE CALENDAR_YEAR(CreatedDate) = 2011",
        "MALFORMED_QUERY",
        "CALENDAR_YEAR",
        "unexpected token: 'CALENDAR_YEAR' (functions are not supported by the orgfeed emulator)",
    ),
    ("SELECT Id FROM Account WHERE a = 1 AND b = 2 OR c = 3", "MALFORMED_QUERY", "OR", "unexpected token: 'OR'"),
    ("SELECT Id FROM Account WHERE a = 1 OR b = 2 AND c = 3", "MALFORMED_QUERY", "AND", "unexpected token: 'AND'"),
    ("SELECT Id FROM Account WHERE NOT a = 1 AND b = 2", "MALFORMED_QUERY", "AND", "unexpected token: 'AND'"),
    ("SELECT Id FROM Account WHERE a = 1 AND NOT b = 2", "MALFORMED_QUERY", "NOT", "unexpected token: 'NOT'"),
    ("SELECT Id FROM Account WHERE (a = 1 OR b = 2", "MALFORMED_QUERY", None, "unexpected token: '<EOF>'"),
    ("SELECT Id FROM Account WHERE a = 1)", "MALFORMED_QUERY", ")", "unexpected token: ')'"),
    ("SELECT Id FROM Account WHERE D__c = THIS_WEEK", "MALFORMED_QUERY", "THIS_WEEK", "unexpected token: 'THIS_WEEK'"),
    (
        "SELECT Id FROM Account WHERE D__c = LAST_N_DAYS",
        "MALFORMED_QUERY",
        "LAST_N_DAYS",
        "unexpected token: 'LAST_N_DAYS'",
    ),
    ("SELECT Id FROM Account WHERE D__c = TODAY:3", "MALFORMED_QUERY", "TODAY:3", "unexpected token: 'TODAY:3'"),
    ("SELECT Id FROM Account WHERE D__c = Other__c", "MALFORMED_QUERY", "Other__c", "unexpected token: 'Other__c'"),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-01-02T03:04:05",
        "MALFORMED_QUERY",
        "2024",
        "unexpected token: '2024-01-02T03:04:05'",
    ),
    ("SELECT Id FROM Account WHERE D__c = 2024-02-30", "MALFORMED_QUERY", "2024", "unexpected token: '2024-02-30'"),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-01-02T03:04:05.Z",
        "MALFORMED_QUERY",
        "2024",
        "unexpected token: '2024-01-02T03:04:05.Z'",
    ),
    (
        "SELECT Id FROM Account WHERE T__c > 2024-01-02T03:04Z",
        "MALFORMED_QUERY",
        "2024",
        "unexpected token: '2024-01-02T03:04Z'",
    ),
    ("SELECT Id FROM Account WHERE X__c = 1e5", "MALFORMED_QUERY", "e5", "unexpected token: 'e5'"),
    (
        'SELECT Id FROM Account WHERE Name = "x"',
        "MALFORMED_QUERY",
        '"',
        "line 1:36 no viable alternative at character '\"'",
    ),
    (
        "select Id from Account where id = $sfid",
        "MALFORMED_QUERY",
        "$",
        "line 1:34 no viable alternative at character '$'",
    ),
    (
        "SELECT Id FROM Account WHERE Name = 'a\\qb'",
        "MALFORMED_QUERY",
        "'a",
        "Invalid string literal 'a\\qb'. Illegal character sequence '\\q' in string literal.",
    ),
    (
        "SELECT Id FROM Account WHERE Name = 'Ter\\%'",
        "MALFORMED_QUERY",
        "'Ter",
        "Invalid string literal 'Ter\\%'. Illegal character sequence '\\%' in string literal.",
    ),
    (
        "SELECT Id FROM Account WHERE Name = 'x\\u12'",
        "MALFORMED_QUERY",
        "'x",
        "Invalid string literal 'x\\u12'. Illegal character sequence '\\u' in string literal.",
    ),
    (
        "SELECT Id FROM Account WHERE Name = 'open",
        "MALFORMED_QUERY",
        None,
        "line 1:41 mismatched character '<EOF>' expecting '''",
    ),
    ("SELECT FROM Account", "MALFORMED_QUERY", "FROM", "unexpected token: 'FROM'"),
    ("SELECT Id, FROM Account", "MALFORMED_QUERY", "FROM", "unexpected token: 'FROM'"),
    ("SELECT Id Account", "MALFORMED_QUERY", "Account", "unexpected token: 'Account'"),
    ("SELECT Id FROM Account acct", "MALFORMED_QUERY", "acct", "unexpected token: 'acct'"),
    ("SELECT Id FROM Contact, Contact.Account", "MALFORMED_QUERY", ",", "unexpected token: ','"),
    ("SELECT Id FROM", "MALFORMED_QUERY", None, "unexpected token: '<EOF>'"),
    ("DELETE FROM Account", "MALFORMED_QUERY", "DELETE", "unexpected token: 'DELETE'"),
    ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", None, "unexpected token: '<EOF>'"),
    ("SELECT Id FROM Account WHERE Name", "MALFORMED_QUERY", None, "unexpected token: '<EOF>'"),
    ("SELECT Id FROM Account WHERE Name IN ()", "MALFORMED_QUERY", ")", "unexpected token: ')'"),
    ("SELECT Id FROM Account WHERE Name IN 'a'", "MALFORMED_QUERY", "'a'", "unexpected token: ''a''"),
    ("SELECT Id FROM Account WHERE Name = ('a')", "MALFORMED_QUERY", "(", "unexpected token: '('"),
    ("SELECT Id FROM Account WHERE Name NOT = 'a'", "MALFORMED_QUERY", "NOT", "unexpected token: 'NOT'"),
    ("SELECT Id FROM Account WHERE Name == 'a'", "MALFORMED_QUERY", "= 'a'", "unexpected token: '='"),
    ("SELECT Select FROM Account", "MALFORMED_QUERY", "Select F", "unexpected token: 'Select'"),
    ("SELECT Id FROM Account ORDER Name", "MALFORMED_QUERY", "ORDER", "unexpected token: 'ORDER'"),
    ("SELECT Id FROM Account ORDER BY Name NULLS", "MALFORMED_QUERY", None, "unexpected token: '<EOF>'"),
    ("SELECT Id FROM Account ORDER BY Name DESC ASC", "MALFORMED_QUERY", "ASC", "unexpected token: 'ASC'"),
    ("SELECT Id FROM Account OFFSET 5 LIMIT 1", "MALFORMED_QUERY", "LIMIT", "unexpected token: 'LIMIT'"),
    ("SELECT Id FROM Account LIMIT -1", "MALFORMED_QUERY", "-1", "unexpected token: '-1'"),
    ("SELECT Id FROM Account LIMIT 1.5", "MALFORMED_QUERY", "1.5", "unexpected token: '1.5'"),
    ("SELECT Id FROM Account LIMIT", "MALFORMED_QUERY", None, "unexpected token: '<EOF>'"),
    (
        "SELECT Id FROM Account WHERE Id = :accountId",
        "MALFORMED_QUERY",
        ":",
        "line 1:34 no viable alternative at character ':'",
    ),
    ("SELECT Id FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", None, "Maximum SOQL offset allowed is 2000"),
]


@pytest.mark.parametrize(("text", "code", "token", "detail"), REJECT_CASES)
def test_parse_soql_rejects_with_the_exact_error(text: str, code: str, token: str | None, detail: str) -> None:
    with pytest.raises(SoqlError) as caught:
        parse_soql(text)
    assert_error(caught.value, text, code, token, detail)


def test_parse_error_message_has_salesforces_snippet_caret_and_position() -> None:
    with pytest.raises(SoqlError) as caught:
        parse_soql("SELECT Id\nFROM Account\nWHERE Name = 'x' AND\n  Foo = 1 OR Bar = 2")
    assert (
        caught.value.message == "\n  Foo = 1 OR Bar = 2\n          ^\nERROR at Row:4:Column:11\nunexpected token: 'OR'"
    )


def test_error_in_a_long_row_quotes_four_tokens_either_side() -> None:
    text = (
        "SELECT Id, FirstName, LastName, Email, CurrentWellnessStatus, CreatedDate, SystemModstamp, "
        "IsDeleted, Bacon__c, LastModifiedDate FROM Account"
    )
    types = {name: "string" for name in text.split(" FROM ", maxsplit=1)[0][7:].split(", ") if name != "Bacon__c"}
    with pytest.raises(SoqlError) as caught:
        compile_query(parse_soql(text), types, sobject_name="Account", now=NOW)
    assert caught.value.message == (
        "\nSystemModstamp, IsDeleted, Bacon__c, LastModifiedDate FROM Account\n"
        "                           ^\nERROR at Row:1:Column:103\n" + LONG_DETAIL
    )


def test_a_lexer_error_in_a_long_row_quotes_the_tokens_before_it() -> None:
    # Building this message once recursed until RecursionError: quoting a long row tokenised it again,
    # which raised the same error and built the same message.
    text = "SELECT Id, " + ", ".join(f"Field{n}__c" for n in range(20)) + " FROM Account WHERE Name = $name"
    with pytest.raises(SoqlError) as caught:
        parse_soql(text)
    column = text.index("$")
    assert caught.value.message == (
        f"\nAccount WHERE Name = $name\n                     ^\nERROR at Row:1:Column:{column + 1}\n"
        f"line 1:{column} no viable alternative at character '$'"
    )


def test_an_open_string_in_a_long_row_is_quoted_to_the_end_of_the_row() -> None:
    text = "SELECT Id, " + ", ".join(f"Field{n}__c" for n in range(20)) + " FROM Account WHERE Name = 'open"
    with pytest.raises(SoqlError) as caught:
        parse_soql(text)
    assert caught.value.message.startswith("\nAccount WHERE Name = 'open\n")


def test_unknown_field_error_matches_salesforces_message() -> None:
    # The message a real org returns, quoted in public client tests.
    with pytest.raises(SoqlError) as caught:
        compile_text("SELECT Bacon__c FROM Account LIMIT 2")
    assert caught.value.error_code == "INVALID_FIELD"
    assert caught.value.message == (
        "\nSELECT Bacon__c FROM Account LIMIT 2\n       ^\nERROR at Row:1:Column:8\n" + LONG_DETAIL
    )


def test_invalid_type_error_matches_salesforces_message() -> None:
    text = "SELECT Id, Name FROM AccountOpps WHERE Name = 'x'"
    error = make_invalid_type_error(parse_soql(text))
    assert error.error_code == "INVALID_TYPE"
    assert error.message == (
        "\nSELECT Id, Name FROM AccountOpps WHERE Name = 'x'\n                     ^\n"
        "ERROR at Row:1:Column:22\nsObject type 'AccountOpps' is not supported. If you are attempting to use "
        "a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or "
        "the describe call for the appropriate names."
    )


COMPILE_ERROR_CASES = [
    (
        "SELECT Id, Foo FROM Account",
        "INVALID_FIELD",
        "Foo",
        "No such column 'Foo' on entity 'Account'. If you are attempting to use a custom field, be sure to append "
        "the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    ),
    (
        "SELECT Id FROM Account WHERE Foo__c = 1",
        "INVALID_FIELD",
        "Foo__c",
        "No such column 'Foo__c' on entity 'Account'. If you are attempting to use a custom field, be sure to "
        "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    ),
    (
        "SELECT Id FROM Account ORDER BY Foo",
        "INVALID_FIELD",
        "Foo",
        "No such column 'Foo' on entity 'Account'. If you are attempting to use a custom field, be sure to append "
        "the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    ),
    ("SELECT Id, Name, id FROM Account", "INVALID_FIELD", None, "duplicate field selected: Id"),
    (
        "SELECT Id FROM Account WHERE CloseDate__c = 2024-03-10T00:00:00Z",
        "INVALID_FIELD",
        "2024",
        "value of filter criterion for field 'CloseDate__c' must be of type date and should not be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE CloseDate__c = '2024-03-10'",
        "INVALID_FIELD",
        "'2024",
        "value of filter criterion for field 'CloseDate__c' must be of type date and should not be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE SystemModstamp > 2024-03-10",
        "INVALID_FIELD",
        "2024",
        "value of filter criterion for field 'SystemModstamp' must be of type dateTime and should not be enclosed "
        "in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE systemmodstamp > '2024-03-10T00:00:00Z'",
        "INVALID_FIELD",
        "'2024",
        "value of filter criterion for field 'SystemModstamp' must be of type dateTime and should not be enclosed "
        "in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE AnnualRevenue = '100'",
        "INVALID_FIELD",
        "'100'",
        "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed "
        "in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE AnnualRevenue = TODAY",
        "INVALID_FIELD",
        "TODAY",
        "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed "
        "in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE NumberOfEmployees = 1.5",
        "INVALID_FIELD",
        "1.5",
        "value of filter criterion for field 'NumberOfEmployees' must be of type integer and should not be "
        "enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE Name = 5",
        "INVALID_FIELD",
        "5",
        "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE Name = true",
        "INVALID_FIELD",
        "true",
        "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE Industry IN ('Tech', 5)",
        "INVALID_FIELD",
        "5",
        "value of filter criterion for field 'Industry' must be of type string and should be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE Name = 2024-01-01",
        "INVALID_FIELD",
        "2024",
        "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE IsDeleted = 'false'",
        "INVALID_FIELD",
        "'false'",
        "value of filter criterion for field 'IsDeleted' must be of type boolean and should not be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE IsDeleted = 0",
        "INVALID_FIELD",
        "0",
        "value of filter criterion for field 'IsDeleted' must be of type boolean and should not be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE OpenTime__c = '10:00:00'",
        "INVALID_FIELD",
        "'10",
        "value of filter criterion for field 'OpenTime__c' must be of type time and should not be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE Id = 5",
        "INVALID_FIELD",
        "5",
        "value of filter criterion for field 'Id' must be of type id and should be enclosed in quotes",
    ),
    (
        "SELECT Id FROM Account WHERE ParentId = 'Acme'",
        "INVALID_QUERY_FILTER_OPERATOR",
        "'Acme'",
        "invalid ID field: Acme",
    ),
    (
        "SELECT Id FROM Account WHERE Id IN ('001Xx000003DGbA', '001Xx000003DGbA999')",
        "INVALID_QUERY_FILTER_OPERATOR",
        "'001Xx000003DGbA999'",
        "invalid ID field: 001Xx000003DGbA999",
    ),
    (
        "SELECT Id FROM Account WHERE IsDeleted < true",
        "INVALID_QUERY_FILTER_OPERATOR",
        "IsDeleted",
        "invalid operator on boolean field",
    ),
    (
        "SELECT Id FROM Account WHERE BillingAddress = null",
        "INVALID_FIELD",
        "BillingAddress",
        "field 'BillingAddress' can not be filtered in query call",
    ),
    (
        "SELECT Id FROM Account ORDER BY BillingAddress",
        "INVALID_FIELD",
        "BillingAddress",
        "field 'BillingAddress' can not be sorted in a query call",
    ),
    (
        "SELECT Id FROM Account ORDER BY tags__c",
        "INVALID_FIELD",
        "tags__c",
        "field 'Tags__c' can not be sorted in a query call",
    ),
]


@pytest.mark.parametrize(("text", "code", "token", "detail"), COMPILE_ERROR_CASES)
def test_compile_query_rejects_with_the_exact_error(text: str, code: str, token: str | None, detail: str) -> None:
    with pytest.raises(SoqlError) as caught:
        compile_text(text)
    assert_error(caught.value, text, code, token, detail)


def test_compile_query_resolves_names_to_their_canonical_spelling() -> None:
    compiled = compile_text(
        "select ID, name, closedate__c FROM account WHERE INDUSTRY = 'Tech' ORDER BY annualrevenue LIMIT 3 OFFSET 1"
    )
    assert (compiled.fields, compiled.is_count, compiled.limit, compiled.offset) == (
        ("Id", "Name", "CloseDate__c"),
        False,
        3,
        1,
    )


def test_count_query_selects_the_matching_records_up_to_its_limit() -> None:
    compiled = compile_text("SELECT COUNT() FROM Account WHERE IsDeleted = false LIMIT 3")
    assert (compiled.fields, compiled.is_count) == ((), True)
    assert [r["Id"] for r in compiled.select(RECORDS)] == ["r1", "r3", "r4"]


EVAL_CASES = [
    ("", ["r1", "r2", "r3", "r4", "r5", "r6"]),
    # Text equality is case-insensitive; '' and a missing key are both null.
    ("WHERE Name = 'ACME'", ["r1", "r2"]),
    ("WHERE Name != 'acme'", ["r3", "r4", "r5", "r6"]),
    ("WHERE Name <> 'acme'", ["r3", "r4", "r5", "r6"]),
    ("WHERE Name = null", ["r4", "r5"]),
    ("WHERE Name = ''", ["r4", "r5"]),
    ("WHERE Name != null", ["r1", "r2", "r3", "r6"]),
    ("WHERE Name > 'b'", ["r3", "r6"]),
    ("WHERE Name < 'B'", ["r1", "r2"]),
    ("WHERE Name >= 'GLOBEX'", ["r3", "r6"]),
    ("WHERE Industry IN ('tech', 'energy')", ["r1", "r3", "r4", "r6"]),
    ("WHERE Industry NOT IN ('tech', 'energy')", ["r2", "r5"]),
    ("WHERE Industry IN ('retail', null)", ["r2", "r5"]),
    ("WHERE Industry NOT IN ('retail', null)", ["r1", "r3", "r4", "r6"]),
    # Numbers: a null never matches an ordering comparison but does match !=.
    ("WHERE AnnualRevenue >= 100", ["r1", "r2", "r4"]),
    ("WHERE AnnualRevenue < 100", ["r5", "r6"]),
    ("WHERE AnnualRevenue = 100.00", ["r1", "r4"]),
    ("WHERE AnnualRevenue != 100", ["r2", "r3", "r5", "r6"]),
    ("WHERE AnnualRevenue > -1.5", ["r1", "r2", "r4", "r5", "r6"]),
    ("WHERE AnnualRevenue IN (0, 75.25)", ["r5", "r6"]),
    ("WHERE NumberOfEmployees <= 3", ["r2", "r5"]),
    ("WHERE NumberOfEmployees = null", ["r3", "r4"]),
    # Booleans: null counts as false, so `= null` means `= false`.
    ("WHERE IsDeleted = false", ["r1", "r3", "r4", "r5", "r6"]),
    ("WHERE IsDeleted = TRUE", ["r2"]),
    ("WHERE IsDeleted != true", ["r1", "r3", "r4", "r5", "r6"]),
    ("WHERE IsDeleted = null", ["r1", "r3", "r4", "r5", "r6"]),
    ("WHERE IsDeleted != null", ["r2"]),
    ("WHERE IsDeleted IN (true, null)", ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ("WHERE OpenTime__c = null", ["r1", "r2", "r3", "r4", "r5", "r6"]),
    # NOT, AND, OR and parentheses.
    ("WHERE NOT Name = 'acme'", ["r3", "r4", "r5", "r6"]),
    ("WHERE NOT AnnualRevenue > 99", ["r3", "r5", "r6"]),
    ("WHERE NOT (Name = 'acme' OR Industry = 'tech')", ["r3", "r5"]),
    ("WHERE (Industry = 'tech' AND AnnualRevenue > 80) OR Name = 'globex'", ["r1", "r3", "r4"]),
    ("WHERE Industry = 'tech' AND (AnnualRevenue > 80 OR Name = 'globex')", ["r1", "r4"]),
    ("WHERE Industry != null AND IsDeleted = false AND AnnualRevenue > 50", ["r1", "r4", "r6"]),
    ("WHERE Name = 'globex' OR Name = 'initech' OR Name = null", ["r3", "r4", "r5", "r6"]),
    ("WHERE ((Name = 'acme' AND IsDeleted = false) OR (Name = 'initech' AND (NOT AnnualRevenue > 100)))", ["r1", "r6"]),
    # Date fields against dates and date literals; NOW is 2024-03-10 15:30 UTC.
    ("WHERE CloseDate__c = 2024-03-10", ["r1"]),
    ("WHERE CloseDate__c > 2024-03-10", ["r3", "r5"]),
    ("WHERE CloseDate__c = TODAY", ["r1"]),
    ("WHERE CloseDate__c = YESTERDAY", ["r2"]),
    ("WHERE CloseDate__c = TOMORROW", ["r3"]),
    ("WHERE CloseDate__c < TODAY", ["r2", "r4"]),
    ("WHERE CloseDate__c <= TODAY", ["r1", "r2", "r4"]),
    ("WHERE CloseDate__c > TODAY", ["r3", "r5"]),
    ("WHERE CloseDate__c >= TODAY", ["r1", "r3", "r5"]),
    ("WHERE CloseDate__c != TODAY", ["r2", "r3", "r4", "r5", "r6"]),
    ("WHERE CloseDate__c = LAST_N_DAYS:1", ["r1", "r2"]),
    ("WHERE CloseDate__c = NEXT_N_DAYS:10", ["r3", "r5"]),
    ("WHERE CloseDate__c = NEXT_N_DAYS:9", ["r3"]),
    ("WHERE CloseDate__c IN (TODAY, TOMORROW)", ["r1", "r3"]),
    ("WHERE CloseDate__c NOT IN (TODAY, 2024-03-11)", ["r2", "r4", "r5", "r6"]),
    # DateTime fields against dateTimes (any offset) and whole UTC days.
    ("WHERE SystemModstamp >= 2024-03-10T00:00:00Z", ["r1", "r3"]),
    ("WHERE SystemModstamp > 2024-03-10T01:00:00+02:00", ["r1", "r2", "r3"]),
    ("WHERE SystemModstamp < 2024-03-03T00:00:00.000Z", ["r6"]),
    ("WHERE SystemModstamp = 2024-03-09T15:59:59-08:00", ["r2"]),
    ("WHERE SystemModstamp = TODAY", ["r1"]),
    ("WHERE SystemModstamp = YESTERDAY", ["r2"]),
    ("WHERE SystemModstamp = LAST_N_DAYS:7", ["r1", "r2", "r5"]),
    ("WHERE SystemModstamp = NEXT_N_DAYS:1", ["r3"]),
    ("WHERE SystemModstamp < LAST_N_DAYS:7", ["r6"]),
    ("WHERE SystemModstamp = null", ["r4"]),
    # ORDER BY: case-insensitive, stable, nulls first for ASC and last for DESC unless told.
    ("ORDER BY Name", ["r4", "r5", "r1", "r2", "r3", "r6"]),
    ("ORDER BY Name DESC", ["r6", "r3", "r1", "r2", "r4", "r5"]),
    ("ORDER BY Name ASC NULLS LAST", ["r1", "r2", "r3", "r6", "r4", "r5"]),
    ("ORDER BY Name DESC NULLS FIRST", ["r4", "r5", "r6", "r3", "r1", "r2"]),
    ("ORDER BY AnnualRevenue DESC, Name", ["r2", "r4", "r1", "r6", "r5", "r3"]),
    ("ORDER BY IsDeleted DESC, CloseDate__c", ["r2", "r6", "r4", "r1", "r3", "r5"]),
    ("ORDER BY Industry, Id DESC", ["r2", "r3", "r5", "r6", "r4", "r1"]),
    # LIMIT and OFFSET apply after the filter and the sort.
    ("ORDER BY SystemModstamp DESC LIMIT 2", ["r3", "r1"]),
    ("ORDER BY SystemModstamp LIMIT 2 OFFSET 1", ["r6", "r5"]),
    ("LIMIT 3", ["r1", "r2", "r3"]),
    ("OFFSET 4", ["r5", "r6"]),
    ("LIMIT 0", []),
    ("OFFSET 10", []),
    ("WHERE IsDeleted = false ORDER BY NumberOfEmployees DESC LIMIT 2", ["r6", "r1"]),
    ("WHERE Industry = 'tech' LIMIT 2 OFFSET 1", ["r4", "r6"]),
]


@pytest.mark.parametrize(("clauses", "expected"), EVAL_CASES)
def test_select_returns_the_exact_records_in_order(clauses: str, expected: list[str]) -> None:
    assert select_ids(f"SELECT Id FROM Account {clauses}", RECORDS) == expected


ID_CASES = [
    (f"WHERE Id = '{ID_A}'", [ID_A]),
    (f"WHERE Id = '{ID_A[:15]}'", [ID_A]),
    (f"WHERE Id = '{ID_A.lower()}'", [ID_A]),
    (f"WHERE Id = '{ID_A[:15].lower()}'", []),
    (f"WHERE Id != '{ID_A}'", [ID_B, ID_C]),
    (f"WHERE Id IN ('{ID_B[:15]}', '{ID_C.upper()}')", [ID_B, ID_C]),
    (f"WHERE Id NOT IN ('{ID_B}')", [ID_A, ID_C]),
    (f"WHERE Id > '{ID_A[:15]}'", [ID_B, ID_C]),
    ("WHERE ParentId = null", [ID_A]),
    ("WHERE ParentId = ''", [ID_A]),
    (f"WHERE ParentId = '{ID_A}'", [ID_B, ID_C]),
    ("ORDER BY Id DESC", [ID_B, ID_C, ID_A]),
    ("ORDER BY ParentId DESC, Id", [ID_C, ID_B, ID_A]),
]


@pytest.mark.parametrize(("clauses", "expected"), ID_CASES)
def test_ids_compare_on_their_case_sensitive_15_character_form(clauses: str, expected: list[str]) -> None:
    assert select_ids(f"SELECT Id FROM Account {clauses}", ID_RECORDS) == expected


def test_matches_reads_a_missing_key_as_null() -> None:
    compiled = compile_text("SELECT Id FROM Account WHERE Name != 'x' AND AnnualRevenue = null")
    assert [compiled.matches({}), compiled.matches({"AnnualRevenue": 1.0})] == [True, False]


def test_sort_keeps_input_order_without_order_by() -> None:
    compiled = compile_text("SELECT Id FROM Account WHERE Name = 'nobody'")
    reversed_records = iter(list(reversed(RECORDS)))
    assert [r["Id"] for r in compiled.sort(reversed_records)] == ["r6", "r5", "r4", "r3", "r2", "r1"]


def test_sort_orders_without_filtering() -> None:
    compiled = compile_text("SELECT Id FROM Account WHERE Name = 'nobody' ORDER BY NumberOfEmployees DESC")
    assert [r["Id"] for r in compiled.sort(RECORDS)] == ["r6", "r1", "r2", "r5", "r3", "r4"]


def test_date_literals_count_days_from_now_in_utc() -> None:
    late_evening_in_new_york = datetime(2024, 3, 10, 21, 30, tzinfo=timezone(timedelta(hours=-5)))
    compiled = compile_query(
        parse_soql("SELECT Id FROM Account WHERE CloseDate__c = TODAY"),
        FIELD_TYPES,
        sobject_name="Account",
        now=late_evening_in_new_york,
    )
    assert [r["Id"] for r in compiled.select(RECORDS)] == ["r3"]
