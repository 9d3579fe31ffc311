"""REST query and queryAll: paging with nextRecordsUrl and batchSize, deleted rows, SOQL errors."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from app.emulator import Emulator
from app.emulator.client import API_VERSION as API
from app.emulator.client import OrgClient


def test_query_pages_with_batch_size_and_next_records_url(shared: Emulator, shared_client: OrgClient) -> None:
    options = {"Sforce-Query-Options": "batchSize=200"}
    first = shared_client.get("query", params={"q": "SELECT Id, Name FROM Employee"}, headers=options).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (300, False, 200)
    locator_url = first["nextRecordsUrl"]
    assert locator_url.startswith(f"/services/data/v{API}/query/01g") and locator_url.endswith("-200")
    second = shared_client.http.get(shared.base_url + locator_url, headers=shared_client.headers()).json()
    assert (second["totalSize"], second["done"], len(second["records"])) == (300, True, 100)
    assert "nextRecordsUrl" not in second
    ids = [r["Id"] for r in first["records"] + second["records"]]
    assert ids == shared.ids("amer", "Employee")


@pytest.mark.parametrize(("header", "page"), [("batchSize=50", 200), ("batchSize=5000", 300), (None, 300)])
def test_batch_size_is_clamped_to_200_through_2000(shared_client: OrgClient, header: str | None, page: int) -> None:
    headers = {"Sforce-Query-Options": header} if header else {}
    body = shared_client.get("query", params={"q": "SELECT Id FROM Contact"}, headers=headers).json()
    assert len(body["records"]) == page


def test_records_carry_attributes_and_rest_value_formats(shared: Emulator, shared_client: OrgClient) -> None:
    record = shared_client.get(
        "query",
        params={
            "q": "SELECT Id, CreatedDate, DateOfBirth, ShiftStartTime__c, HourlyRate__c, OfficeLocation__c "
            "FROM Employee ORDER BY Id LIMIT 1"
        },
    ).json()["records"][0]
    record_id = shared.ids("amer", "Employee", limit=1)[0]
    assert record == {
        "attributes": {"type": "Employee", "url": f"/services/data/v{API}/sobjects/Employee/{record_id}"},
        "Id": record_id,
        "CreatedDate": "2023-01-02T00:00:00.000+0000",
        "DateOfBirth": "1993-02-20",
        "ShiftStartTime__c": "11:15:00.000Z",
        "HourlyRate__c": 83.98,
        "OfficeLocation__c": {"latitude": 37.774929, "longitude": -122.419418},
    }


def test_simple_salesforce_iterates_every_page(shared: Emulator, shared_sf: Salesforce) -> None:
    ids = [
        r["Id"]
        for r in shared_sf.query_all_iter("SELECT Id FROM Account", headers={"Sforce-Query-Options": "batchSize=200"})
    ]
    assert ids == shared.ids("amer", "Account")


def test_simple_salesforce_query_more_follows_the_locator(shared_sf: Salesforce) -> None:
    first = shared_sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=250"})
    rest = shared_sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(first["records"]) + len(rest["records"]) == 300 and rest["done"] is True


def test_where_order_by_and_limit_shape_the_result(shared: Emulator, shared_sf: Salesforce) -> None:
    result = shared_sf.query(
        "SELECT LastName, Email FROM Employee WHERE CurrentWellnessStatus = 'Available' "
        "ORDER BY LastName DESC, Email LIMIT 7"
    )
    table = shared.table("amer", "Employee")
    expected = sorted(
        (
            (table.value(r, "LastName"), table.value(r, "Email"))
            for r in range(300)
            if table.value(r, "CurrentWellnessStatus") == "Available"
        ),
        key=lambda pair: pair[1],
    )
    expected = sorted(expected, key=lambda pair: pair[0], reverse=True)[:7]
    assert [(r["LastName"], r["Email"]) for r in result["records"]] == expected


def test_count_query_returns_the_total_size_only(shared_sf: Salesforce) -> None:
    assert shared_sf.query("SELECT COUNT() FROM Account") == {"totalSize": 300, "done": True, "records": []}


def test_query_all_sees_deleted_rows_that_query_does_not(emulator: Emulator, sf: Salesforce) -> None:
    doomed = emulator.ids("amer", "Employee", limit=3)
    emulator.delete("amer", "Employee", doomed)
    live = sf.query_all("SELECT Id FROM Employee")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Employee", include_deleted=True)
    assert live["totalSize"] == 297 and not {r["Id"] for r in live["records"]} & set(doomed)
    assert everything["totalSize"] == 300
    assert [r["Id"] for r in everything["records"] if r["IsDeleted"]] == doomed
    assert sf.query("SELECT Id FROM Employee WHERE IsDeleted = true", include_deleted=True)["totalSize"] == 3


def test_purged_rows_leave_query_all_too(emulator: Emulator, sf: Salesforce) -> None:
    doomed = emulator.ids("amer", "Account", limit=2)
    emulator.delete("amer", "Account", doomed)
    assert emulator.purge("amer", "Account") == 2
    assert sf.query_all("SELECT Id FROM Account", include_deleted=True)["totalSize"] == 298


def test_query_all_pages_keep_including_deleted_rows(emulator: Emulator, client: OrgClient) -> None:
    doomed = emulator.ids("amer", "Contact")[-5:]
    emulator.delete("amer", "Contact", doomed)
    first = client.get(
        "queryAll", params={"q": "SELECT Id FROM Contact"}, headers={"Sforce-Query-Options": "batchSize=200"}
    ).json()
    rest = client.http.get(emulator.base_url + first["nextRecordsUrl"], headers=client.headers()).json()
    assert first["totalSize"] == 300 and [r["Id"] for r in rest["records"]][-5:] == doomed


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM", "MALFORMED_QUERY"),
        ("SELECT Id, Nope__c FROM Employee", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "MALFORMED_QUERY"),
    ],
)
def test_bad_soql_answers_400_with_the_salesforce_error_code(shared_client: OrgClient, soql: str, code: str) -> None:
    response = shared_client.get("query", params={"q": soql})
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == code and set(error) == {"message", "errorCode"}


def test_simple_salesforce_raises_malformed_request_for_bad_soql(shared_sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        shared_sf.query("SELECT Id FROM Nope")
    assert refused.value.content[0]["errorCode"] == "INVALID_TYPE"


def test_an_unknown_locator_is_invalid_query_locator(shared_client: OrgClient) -> None:
    response = shared_client.get("query/01g5e0000000999AAA-2000")
    assert (response.status_code, response.json()) == (
        400,
        [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}],
    )


@pytest.mark.parametrize(
    ("literal", "included"),
    [
        ("2024-12-27T04:28:00Z", True),
        ("2024-12-27T04:28:00.000000Z", True),
        ("2024-12-26T22:28:00.000000-06:00", True),
        ("2024-12-27T12:28:00.000+08:00", True),
        ("2024-12-26T22:28:00.000001-06:00", False),
        ("2024-12-27T04:28:00.001Z", False),
    ],
)
def test_datetime_literals_with_fractions_and_offsets_compare_as_instants(
    emulator: Emulator, sf: Salesforce, literal: str, included: bool
) -> None:
    # A saved position written by an extractor: six fractional digits and a zone offset.
    [record_id] = emulator.insert(
        "amer", "Contact", [{"LastName": "Edge", "SystemModstamp": "2024-12-27T04:28:00.000Z"}]
    )
    found = sf.query(f"SELECT Id FROM Contact WHERE SystemModstamp >= {literal} AND LastName = 'Edge'")
    assert [r["Id"] for r in found["records"]] == ([record_id] if included else [])


def test_a_lexer_error_in_a_long_query_is_answered_400(shared_client: OrgClient) -> None:
    soql = "SELECT Id, " + ", ".join(f"Field{n}__c" for n in range(20)) + " FROM Account WHERE Name = $name"
    response = shared_client.get("query", params={"q": soql})
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == "MALFORMED_QUERY"
    assert error["message"].endswith("no viable alternative at character '$'")
