"""Status codes and error bodies of "Status Codes and Error Responses", for the emulator's own failures too."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError

from app.emulator import Emulator
from app.emulator import describe as metadata
from app.emulator.client import OrgClient, https_session


def _fail(*args: object) -> object:
    raise RuntimeError("a bug in the emulator")


def test_an_unexpected_error_is_500_unknown_exception_not_404(
    emulator: Emulator, client: OrgClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Clients retry a 5xx and give up on a 404: a bug must not pass for a missing resource.
    monkeypatch.setattr(metadata, "limits", _fail)
    response = client.get("limits")
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    [error] = response.json()
    assert set(error) == {"message", "errorCode"}
    assert error["errorCode"] == "UNKNOWN_EXCEPTION"
    assert error["message"].startswith(
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
    )


def test_simple_salesforce_sees_the_500_as_a_general_error(
    emulator: Emulator, sf: Salesforce, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metadata, "describe_global", _fail)
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.describe()
    assert raised.value.status == 500 and raised.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"


def test_an_unknown_resource_is_still_404_not_found(shared_client: OrgClient) -> None:
    response = shared_client.get("sobjects/Account/nothing/here/at/all")
    assert (response.status_code, response.json()) == (
        404,
        [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}],
    )


def test_a_method_the_resource_does_not_allow_is_405(shared_client: OrgClient) -> None:
    response = shared_client.delete("limits")
    assert (response.status_code, response.json()) == (
        405,
        [
            {
                "message": "HTTP Method 'DELETE' not allowed. Allowed are GET,HEAD,OPTIONS",
                "errorCode": "METHOD_NOT_ALLOWED",
            }
        ],
    )


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_a_bulk_job_change_whose_body_is_not_a_json_object_is_400(shared_client: OrgClient, body: bytes) -> None:
    job = shared_client.post("jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"}).json()
    response = shared_client.patch(f"jobs/query/{job['id']}", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_a_bulk_job_whose_body_is_a_json_array_is_400(shared_client: OrgClient) -> None:
    response = shared_client.post("jobs/query", json=[{"operation": "query"}])
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, "JSON_PARSER_ERROR")


def test_a_basic_authorization_header_that_is_not_base64_is_invalid_client(shared: Emulator) -> None:
    response = https_session(shared).post(
        f"{shared.base_url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic %%%not-base64"},
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_client", "error_description": "invalid client credentials"},
    )
