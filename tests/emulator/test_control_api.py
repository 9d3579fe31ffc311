"""The control API over HTTP under /__emulator/, mirroring the Emulator's methods."""

from __future__ import annotations

import pytest

from app.emulator import Emulator
from app.emulator.client import OrgClient, https_session


@pytest.fixture
def control(emulator: Emulator):
    session = https_session(emulator)
    base = f"{emulator.base_url}/__emulator"

    def call(method: str, path: str, body: dict | None = None):
        response = session.request(method, base + path, json=body)
        return response.status_code, response.json()

    return call


def test_orgs_lists_each_org_with_its_credentials(emulator: Emulator, control) -> None:
    status, body = control("GET", "/orgs")
    assert status == 200
    assert [(o["name"], o["geo"], o["org_id"]) for o in body["orgs"]] == [
        ("amer", "AMER", emulator.org("amer").org_id),
        ("emea", "EMEA", emulator.org("emea").org_id),
    ]
    amer = body["orgs"][0]
    assert amer["login_url"] == amer["instance_url"] == emulator.base_url
    assert amer["client_credentials"]["client_id"] == emulator.org("amer").app.client_id
    assert amer["objects"] == {"Employee": 300, "EmployeeCrisisAssessment": 300, "Account": 300, "Contact": 300}


def test_records_insert_update_delete_undelete_and_purge(emulator: Emulator, control, client: OrgClient) -> None:
    status, body = control(
        "POST",
        "/orgs/amer/sobjects/Account/records",
        {"records": [{"Name": "One"}, {"Name": "Two", "CreatedDate": "2020-05-01T00:00:00Z"}]},
    )
    assert status == 200 and len(body["ids"]) == 2
    one, two = body["ids"]
    assert client.get(f"sobjects/Account/{two}").json()["CreatedDate"] == "2020-05-01T00:00:00.000+0000"
    assert control("PATCH", "/orgs/amer/sobjects/Account/records", {"records": [{"Id": one, "Name": "Uno"}]}) == (
        200,
        {"updated": 1},
    )
    assert client.get(f"sobjects/Account/{one}").json()["Name"] == "Uno"
    assert control("POST", "/orgs/amer/sobjects/Account/delete", {"ids": [one, two]}) == (200, {"deleted": 2})
    assert control("POST", "/orgs/amer/sobjects/Account/undelete", {"ids": [one]}) == (200, {"undeleted": 1})
    assert control("POST", "/orgs/amer/sobjects/Account/purge", {}) == (200, {"purged": 1})
    assert client.get(f"sobjects/Account/{one}").status_code == 200
    assert client.get(f"sobjects/Account/{two}").status_code == 404


def test_control_errors_say_what_is_wrong(control) -> None:
    assert control("POST", "/orgs/apac/sobjects/Account/delete", {"ids": []}) == (
        400,
        {"error": "no org 'apac'; the emulator hosts amer, emea"},
    )
    status, body = control("POST", "/orgs/amer/sobjects/Account/delete", {"ids": ["0015e0000999999AAA"]})
    assert (status, body) == (400, {"error": "NOT_FOUND: The requested resource does not exist"})


def test_seed_replaces_an_object_with_n_generated_records(emulator: Emulator, control, client: OrgClient) -> None:
    assert control("POST", "/orgs/emea/sobjects/Employee/seed", {"rows": 2500}) == (200, {"rows": 2500})
    emea = OrgClient(emulator, "emea")
    assert emea.get("query", params={"q": "SELECT COUNT() FROM Employee"}).json()["totalSize"] == 2500


def test_fields_are_added_retyped_and_removed(emulator: Emulator, control, client: OrgClient) -> None:
    assert control(
        "POST",
        "/orgs/amer/sobjects/Contact/fields",
        {"name": "Tier__c", "type": "picklist", "picklist_values": ["Gold", "Silver"]},
    ) == (201, {"name": "Tier__c", "type": "picklist"})
    described = {f["name"]: f for f in client.get("sobjects/Contact/describe").json()["fields"]}
    assert [p["value"] for p in described["Tier__c"]["picklistValues"]] == ["Gold", "Silver"]
    assert described["Tier__c"]["custom"] is True
    assert (
        client.get("query", params={"q": "SELECT Tier__c FROM Contact LIMIT 1"}).json()["records"][0]["Tier__c"] is None
    )

    assert control("PATCH", "/orgs/amer/sobjects/Contact/fields/Title", {"type": "textarea", "length": 1000}) == (
        200,
        {"name": "Title", "type": "textarea"},
    )
    described = {f["name"]: f for f in client.get("sobjects/Contact/describe").json()["fields"]}
    assert (described["Title"]["type"], described["Title"]["length"]) == ("textarea", 1000)

    assert control("DELETE", "/orgs/amer/sobjects/Contact/fields/Fax") == (200, {"removed": "Fax"})
    assert "Fax" not in [f["name"] for f in client.get("sobjects/Contact/describe").json()["fields"]]
    refused = client.get("query", params={"q": "SELECT Fax FROM Contact"})
    assert (refused.status_code, refused.json()[0]["errorCode"]) == (400, "INVALID_FIELD")


def test_retyping_text_to_a_number_keeps_values_that_parse(emulator: Emulator, control, client: OrgClient) -> None:
    def postal_codes() -> dict[str, object]:
        query = client.get("query", params={"q": "SELECT Id, BillingPostalCode FROM Account"}).json()
        assert query["done"] is True
        return {record["Id"]: record["BillingPostalCode"] for record in query["records"]}

    first, second = emulator.ids("amer", "Account", limit=2)
    emulator.update("amer", "Account", [{"Id": second, "BillingPostalCode": "SW1A 1AA"}])
    before = postal_codes()
    assert (before[first], len(before)) == ("96953", 300)
    retyped = control("PATCH", "/orgs/amer/sobjects/Account/fields/BillingPostalCode", {"type": "double", "scale": 0})
    assert retyped == (200, {"name": "BillingPostalCode", "type": "double"})
    after = postal_codes()
    assert (after[first], after[second]) == (96953.0, None)  # a postcode that is no number becomes null
    assert after == {
        record_id: None if record_id == second or code is None else float(code) for record_id, code in before.items()
    }


def test_faults_are_injected_listed_and_cleared(control, client: OrgClient) -> None:
    injected = control("POST", "/faults", {"kind": "status", "path": "*/limits", "count": 1, "status": 503})
    assert injected == (
        200,
        {
            "faults": [
                {
                    "kind": "status",
                    "path": "*/limits",
                    "count": 1,
                    "method": None,
                    "status": 503,
                    "error_code": "SERVER_UNAVAILABLE",
                    "message": "The server is temporarily unable to service your request.",
                    "seconds": 0.0,
                    "remaining": 1,
                }
            ]
        },
    )
    assert client.get("limits").status_code == 503
    assert control("GET", "/faults") == (200, {"faults": []})
    control("POST", "/faults", {"kind": "drop", "path": "*/never"})
    assert control("DELETE", "/faults") == (200, {"faults": []})
    status, body = control("POST", "/faults", {"kind": "status", "bogus": 1})
    assert (status, list(body)) == (400, ["error"])
    assert body["error"].startswith("unknown fault option: ") and "'bogus'" in body["error"]
    assert control("GET", "/faults") == (200, {"faults": []})  # nothing half-added


def test_sessions_are_expired_and_issued(emulator: Emulator, control, client: OrgClient) -> None:
    assert control("POST", "/sessions/expire") == (200, {"expired": 1})  # the client fixture's session
    assert client.get("limits").status_code == 401
    _, body = control("POST", "/orgs/amer/sessions", {})
    client.token = body["access_token"]
    assert client.get("limits").status_code == 200


def test_the_api_allocation_is_set(control, client: OrgClient) -> None:
    assert control("PUT", "/orgs/amer/limits", {"max": 500, "used": 499}) == (200, {"Max": 500, "Remaining": 1})
    assert client.get("limits").status_code == 200
    assert client.get("limits").status_code == 403


def test_the_clock_advances(emulator: Emulator, control) -> None:
    before = emulator.clock.now()
    status, body = control("POST", "/clock", {"advance_seconds": 86400})
    assert status == 200 and body["offset_seconds"] == 86400
    assert (emulator.clock.now() - before).total_seconds() >= 86400
