"""Random query text never crashes the emulator: /query answers 200 or a 400 with Salesforce's error JSON.

The text is drawn from SOQL's own pieces (keywords, the demo objects' fields, operators, literals of
every kind the SOQL reference documents, stray characters), from mutations of valid queries, and
from arbitrary Unicode, so it reaches deep into the parser and the type checks as well as the lexer.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.emulator.client import OrgClient
from app.emulator.soql.execute import SoqlError, compile_query, parse_soql

ERROR_CODES = {
    "MALFORMED_QUERY",
    "INVALID_FIELD",
    "INVALID_TYPE",
    "INVALID_QUERY_FILTER_OPERATOR",
    "NUMBER_OUTSIDE_VALID_RANGE",
}
KEYWORDS = [
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "NOT IN", "ORDER BY", "ASC", "DESC", "NULLS FIRST",
    "NULLS LAST", "LIMIT", "OFFSET", "COUNT()", "GROUP BY", "HAVING", "LIKE", "INCLUDES", "TYPEOF", "WITH",
    "FOR UPDATE", "USING SCOPE", "ALL ROWS", "FIELDS(ALL)",
]  # fmt: skip
NAMES = [
    "Id", "Name", "LastName", "Email", "Fax", "DoNotCall", "Birthdate", "CreatedDate", "SystemModstamp",
    "NumberOfEmployees", "AnnualRevenue", "BillingAddress", "BillingCity", "Photo", "ShiftStartTime__c",
    "OfficeLocation__c", "Account.Name", "Nope__c", "Account", "Contact", "Employee", "Nope",
]  # fmt: skip
OPERATORS = ["=", "!=", "<>", "<", "<=", ">", ">=", "==", "=<", ",", "(", ")", "((", ":", "!", "*"]
LITERALS = [
    "'x'", "''", "'O\\'Brien'", "'\\n'", "'\\u00e9'", "'\\q'", "'open", "\"x\"", "null", "TRUE", "false",
    "0", "-1", "+5.50", "1e5", "99999999999999999999999", "2024-02-29", "2024-02-30", "1999-01-01T23:01:01Z",
    "1999-01-01T23:01:01+01:00", "2024-12-26T22:28:00.000000-06:00", "2024-12-26T22:28:00.Z",
    "2024-12-26T22:28Z", "2024-12-26T99:99:99Z", "TODAY", "YESTERDAY", "LAST_N_DAYS:30", "NEXT_N_DAYS:-1",
    "LAST_N_DAYS:99999999999", "THIS_WEEK", "0035e0000000001AAA", "'0035e0000000001AAA'", "'0035e00000000'",
    "2001", "2000",
]  # fmt: skip
VALID = [
    "SELECT Id, Name FROM Account WHERE Industry = 'Technology' ORDER BY Name DESC NULLS LAST LIMIT 5",
    "SELECT COUNT() FROM Contact WHERE DoNotCall = true AND (Fax = null OR Birthdate > 1999-01-01)",
    "SELECT Id FROM Contact WHERE CreatedDate >= 2024-12-26T22:28:00.000000-06:00 OFFSET 10",
    "SELECT Id FROM Employee WHERE Id IN ('0hE5e0000000001AAA', '0hE5e0000000002') AND NOT Name = 'x'",
]

pieces = st.sampled_from(KEYWORDS + NAMES + OPERATORS + LITERALS)
token_soup = st.lists(pieces, min_size=1, max_size=14).map(" ".join)
near_valid = st.builds(
    lambda query, at, cut, insert: query[:at] + insert + query[at + cut :],
    st.sampled_from(VALID),
    st.integers(0, 110),
    st.integers(0, 6),
    st.sampled_from(["", " ", "'", "(", ")", ",", "\\", "$", "AND", "OR", "NOT", "2024-01-01", ":", "."]),
)
anything = st.text(max_size=120)
query_text = st.one_of(
    token_soup.map(lambda soup: f"SELECT {soup}"),
    token_soup.map(lambda soup: f"SELECT Id FROM Account WHERE {soup}"),
    token_soup.map(lambda soup: f"SELECT Id FROM Contact {soup}"),
    near_valid,
    anything,
)
FIELD_TYPES = {"Id": "id", "Name": "string", "CreatedDate": "datetime", "Birthdate": "date", "DoNotCall": "boolean"}


@settings(max_examples=300, deadline=None, database=None)
@given(text=query_text)
def test_parsing_and_compiling_random_text_raises_only_soql_errors(text: str) -> None:
    try:
        compile_query(parse_soql(text), FIELD_TYPES, sobject_name="Account", now=datetime.now(UTC))
    except SoqlError as error:
        assert error.error_code in ERROR_CODES
        assert isinstance(error.message, str) and error.message


@pytest.mark.timeout(180)
@settings(
    max_examples=120,
    deadline=5000,  # one request; a busy CI machine takes tens of ms, a hang takes forever
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=query_text)
def test_random_query_text_is_answered_200_or_400_with_salesforce_error_json(
    shared_client: OrgClient, text: str
) -> None:
    response = shared_client.get("query", params={"q": text}, timeout=30)
    body = response.json()
    if response.status_code == 200:
        assert set(body) >= {"totalSize", "done", "records"}
        return
    assert response.status_code == 400, (text, response.status_code, body)
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"message", "errorCode"} and body[0]["errorCode"] in ERROR_CODES
