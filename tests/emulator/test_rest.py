"""REST resources: versions, limits, sessions and the allocation, describe, and record writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from werkzeug.http import http_date

from app.emulator import Emulator
from app.emulator.client import API_VERSION as API
from app.emulator.client import OrgClient, https_session


def test_versions_list_every_api_version_from_31_to_64(shared: Emulator) -> None:
    response = https_session(shared).get(f"{shared.base_url}/services/data/")
    versions = {entry["version"]: entry for entry in response.json()}
    assert response.status_code == 200
    assert {f"{v}.0" for v in range(55, 65)} <= set(versions)
    assert versions["62.0"] == {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"}
    assert versions["64.0"]["label"] == "Summer '25"


@pytest.mark.parametrize("version", ["55.0", "59.0", "64.0"])
def test_every_supported_version_serves_the_same_resources(shared_client: OrgClient, version: str) -> None:
    response = shared_client.http.get(
        f"{shared_client.emulator.base_url}/services/data/v{version}/", headers=shared_client.headers()
    )
    assert response.status_code == 200
    assert response.json()["sobjects"] == f"/services/data/v{version}/sobjects"


def test_an_unknown_version_is_not_found(shared_client: OrgClient) -> None:
    response = shared_client.http.get(
        f"{shared_client.emulator.base_url}/services/data/v12.0/limits", headers=shared_client.headers()
    )
    assert (response.status_code, response.json()) == (
        404,
        [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}],
    )


def test_limits_count_down_and_every_response_carries_the_usage_header(client: OrgClient) -> None:
    first = client.get("limits")
    second = client.get("limits")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/100000"
    assert first.json()["DailyApiRequests"] == {"Max": 100000, "Remaining": 99999}
    assert second.json()["DailyApiRequests"] == {"Max": 100000, "Remaining": 99998}
    assert client.get("sobjects/Nope/describe").headers["Sforce-Limit-Info"] == "api-usage=3/100000"


def test_simple_salesforce_reads_limits_and_usage(sf: Salesforce) -> None:
    limits = sf.restful("limits")
    assert limits["DailyApiRequests"]["Max"] == 100000
    assert sf.api_usage["api-usage"].used == 1


def test_a_missing_or_unknown_token_is_invalid_session_id(client: OrgClient) -> None:
    url = client.base + "limits"
    for headers in ({}, {"Authorization": "Bearer 00Dxx!nonsense"}):
        response = client.http.get(url, headers=headers)
        assert (response.status_code, response.json()) == (
            401,
            [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
        )
        assert "Sforce-Limit-Info" not in response.headers


def test_expired_sessions_are_refused(emulator: Emulator, client: OrgClient, sf: Salesforce) -> None:
    assert client.get("limits").status_code == 200
    assert emulator.expire_sessions() == 2
    assert client.get("limits").status_code == 401
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")


def test_sessions_time_out_after_two_hours_of_emulated_time(emulator: Emulator, client: OrgClient) -> None:
    emulator.advance_clock(2 * 3600 - 60)
    assert client.get("limits").status_code == 200
    emulator.advance_clock(61)
    assert client.get("limits").json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_the_used_up_allocation_is_request_limit_exceeded(
    emulator: Emulator, client: OrgClient, sf: Salesforce
) -> None:
    emulator.set_api_allocation("amer", maximum=10, used=9)
    assert client.get("limits").json()["DailyApiRequests"] == {"Max": 10, "Remaining": 0}
    refused = client.get("limits")
    assert (refused.status_code, refused.json()) == (
        403,
        [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=10/10"
    with pytest.raises(SalesforceRefusedRequest):
        sf.query("SELECT Id FROM Account")
    other_org = OrgClient(emulator, "emea")
    assert other_org.get("limits").status_code == 200


def test_describe_global_lists_the_demo_objects(shared_sf: Salesforce) -> None:
    objects = {entry["name"]: entry for entry in shared_sf.describe()["sobjects"]}
    assert set(objects) == {"Employee", "EmployeeCrisisAssessment", "Account", "Contact"}
    assert objects["Account"]["keyPrefix"] == "001"
    assert objects["Employee"]["queryable"] and objects["Employee"]["replicateable"]


def test_describe_gives_full_field_metadata(shared_sf: Salesforce) -> None:
    fields = {f["name"]: f for f in shared_sf.Employee.describe()["fields"]}
    email = fields["Email"]
    assert (email["type"], email["length"], email["nillable"], email["updateable"]) == ("email", 80, False, True)
    assert email["soapType"] == "xsd:string" and email["byteLength"] == 240
    rate = fields["HourlyRate__c"]
    assert (rate["type"], rate["precision"], rate["scale"], rate["custom"]) == ("currency", 16, 2, True)
    assert fields["ManagerId"]["referenceTo"] == ["Employee"]
    assert fields["ManagerId"]["relationshipName"] == "Manager"
    assert [p["value"] for p in fields["CurrentWellnessStatus"]["picklistValues"]] == [
        "Available",
        "Unavailable",
        "Unknown",
    ]
    assert fields["SystemModstamp"]["updateable"] is False and fields["SystemModstamp"]["type"] == "datetime"
    assert fields["OfficeLocation__Latitude__s"]["compoundFieldName"] == "OfficeLocation__c"
    assert fields["Name"]["calculated"] is False and fields["Name"]["nameField"] is True
    account = {f["name"]: f for f in shared_sf.Account.describe()["fields"]}
    assert account["BillingAddress"]["type"] == "address"
    assert account["BillingCity"]["compoundFieldName"] == "BillingAddress"


def test_describe_answers_304_when_unchanged_since(emulator: Emulator, client: OrgClient) -> None:
    since = http_date(datetime.now(UTC))
    unchanged = client.get("sobjects/Employee/describe", headers={"If-Modified-Since": since})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    emulator.advance_clock(5)
    emulator.add_field("amer", "Employee", "ShoeSize__c", "double", precision=4, scale=1)
    changed = client.get("sobjects/Employee/describe", headers={"If-Modified-Since": since})
    assert changed.status_code == 200
    assert "ShoeSize__c" in [f["name"] for f in changed.json()["fields"]]


def test_describe_of_an_unknown_object_is_not_found(shared_client: OrgClient) -> None:
    response = shared_client.get("sobjects/Nope/describe")
    assert (response.status_code, response.json()[0]["errorCode"]) == (404, "NOT_FOUND")


def test_create_get_update_delete_a_record_with_simple_salesforce(emulator: Emulator, sf: Salesforce) -> None:
    created = sf.Employee.create(
        {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "ada@x.example",
            "EmployeeNumber": "AM-9",
            "EmployeeStatus": "Active",
            "DateOfBirth": "1990-12-10",
            "HourlyRate__c": 88.5,
        }
    )
    assert created["success"] is True and created["errors"] == []
    record = sf.Employee.get(created["id"])
    assert (record["Name"], record["DateOfBirth"], record["HourlyRate__c"]) == ("Ada Lovelace", "1990-12-10", 88.5)
    assert record["CreatedDate"] == record["SystemModstamp"]
    assert record["attributes"] == {
        "type": "Employee",
        "url": f"/services/data/v{API}/sobjects/Employee/{created['id']}",
    }
    emulator.advance_clock(90)
    assert sf.Employee.update(created["id"], {"FirstName": "Augusta"}) == 204
    updated = sf.Employee.get(created["id"])
    assert updated["Name"] == "Augusta Lovelace"
    assert updated["SystemModstamp"] > record["SystemModstamp"]
    assert updated["LastModifiedDate"] == updated["SystemModstamp"]
    assert sf.Employee.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as deleted:
        sf.Employee.get(created["id"])
    assert deleted.value.content == [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}]


def test_updating_a_seeded_record_moves_its_stamps(emulator: Emulator, sf: Salesforce) -> None:
    record_id = emulator.ids("amer", "Contact", limit=1)[0]
    before = sf.Contact.get(record_id)
    sf.Contact.update(record_id, {"Phone": "+1 212 555 0000"})
    after = sf.Contact.get(record_id)
    assert after["Phone"] == "+1 212 555 0000"
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["CreatedDate"] == before["CreatedDate"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"LastName": "X", "Email": "x@y", "EmployeeNumber": "1", "EmployeeStatus": "Active", "Shoe": 1},
            400,
            {"message": "No such column 'Shoe' on sobject of type Employee", "errorCode": "INVALID_FIELD"},
        ),
        (
            {"FirstName": "Only"},
            400,
            {
                "message": "Required fields are missing: [LastName, Email, EmployeeNumber, EmployeeStatus]",
                "errorCode": "REQUIRED_FIELD_MISSING",
                "fields": ["LastName", "Email", "EmployeeNumber", "EmployeeStatus"],
            },
        ),
        (
            {
                "LastName": "X",
                "Email": "x@y",
                "EmployeeNumber": "1",
                "EmployeeStatus": "Active",
                "SystemModstamp": "2024-01-01T00:00:00Z",
            },
            400,
            {
                "message": "Unable to create/update fields: SystemModstamp. Please check the security settings of this "
                "field and verify that it is read/write for your profile or permission set.",
                "errorCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                "fields": ["SystemModstamp"],
            },
        ),
    ],
)
def test_invalid_creates_answer_salesforce_errors(client: OrgClient, body: dict, status: int, error: dict) -> None:
    response = client.post("sobjects/Employee", json=body)
    assert (response.status_code, response.json()) == (status, [error])


def test_a_record_that_does_not_exist_is_not_found(shared_sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        shared_sf.Employee.get("0hE5e0000099999EAA")


def test_get_with_fields_returns_only_those(shared: Emulator, shared_client: OrgClient) -> None:
    record_id = shared.ids("amer", "Account", limit=1)[0]
    body = shared_client.get(f"sobjects/Account/{record_id}", params={"fields": "Name,billingcity"}).json()
    assert list(body) == ["attributes", "Name", "BillingCity"]


def test_a_malformed_json_body_is_a_parser_error(client: OrgClient) -> None:
    response = client.post("sobjects/Account", data=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_writing_a_value_of_the_wrong_type_is_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Account.create({"Name": "Acme", "NumberOfEmployees": "many"})
    assert refused.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_base64_fields_are_served_as_blob_urls(shared: Emulator, shared_client: OrgClient) -> None:
    table = shared.table("amer", "Employee")
    row = next(r for r in range(300) if table.value(r, "Photo") is not None)
    record_id = table.record_id(row)
    body = shared_client.get(f"sobjects/Employee/{record_id}", params={"fields": "Photo"}).json()
    assert body["Photo"] == f"/services/data/v{API}/sobjects/Employee/{record_id}/Photo"
    blob = shared_client.http.get(shared.base_url + body["Photo"], headers=shared_client.headers())
    assert blob.content.startswith(b"\x89PNG")


def test_sobject_basic_information_describes_the_object(shared_client: OrgClient) -> None:
    body = shared_client.get("sobjects/Contact").json()
    assert body["objectDescribe"]["name"] == "Contact" and body["objectDescribe"]["keyPrefix"] == "003"
    assert body["recentItems"] == []


def test_the_identity_url_names_the_org_and_user(shared: Emulator, shared_client: OrgClient) -> None:
    org = shared.org("amer")
    identity = shared_client.http.get(
        f"{shared.base_url}/id/{org.org_id}/{org.users[0].user_id}", headers=shared_client.headers()
    ).json()
    assert (identity["organization_id"], identity["user_id"], identity["username"]) == (
        org.org_id,
        org.users[0].user_id,
        org.users[0].username,
    )
