"""POST /services/oauth2/token: client credentials, password and JWT bearer grants, and their errors."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
import requests

from app.emulator import Emulator
from app.emulator.client import https_session
from app.emulator.credentials import make_certificate


def _token(emulator: Emulator, **form: str) -> requests.Response:
    return https_session(emulator).post(f"{emulator.base_url}/services/oauth2/token", data=form)


def _assertion(emulator: Emulator, org: str = "emea", key: str | None = None, **claims: object) -> str:
    summary = next(o for o in emulator.describe_orgs() if o["name"] == org)
    payload = {
        "iss": summary["jwt"]["client_id"],
        "sub": summary["jwt"]["username"],
        "aud": emulator.base_url,
        "exp": int(time.time()) + 180,
        **claims,
    }
    private_key = key or emulator.org(org).app.private_key_pem
    return jwt.encode(payload, private_key, algorithm="RS256")


def test_client_credentials_grant_returns_a_token_for_the_org(shared: Emulator) -> None:
    org = shared.org("amer")
    response = _token(
        shared, grant_type="client_credentials", client_id=org.app.client_id, client_secret=org.app.client_secret
    )
    assert response.status_code == 200
    body = response.json()
    assert body["instance_url"] == shared.base_url
    assert body["id"] == f"{shared.base_url}/id/{org.org_id}/{org.users[0].user_id}"
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith(org.org_id[:15] + "!")
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature", "scope"}


def test_client_credentials_may_come_in_a_basic_authorization_header(shared: Emulator) -> None:
    org = shared.org("emea")
    basic = base64.b64encode(f"{org.app.client_id}:{org.app.client_secret}".encode()).decode()
    response = https_session(shared).post(
        f"{shared.base_url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert f"/id/{org.org_id}/" in response.json()["id"]


def test_the_token_works_on_the_rest_api_of_its_org(shared: Emulator) -> None:
    org = shared.org("emea")
    token = _token(
        shared, grant_type="client_credentials", client_id=org.app.client_id, client_secret=org.app.client_secret
    ).json()["access_token"]
    response = https_session(shared).get(
        f"{shared.base_url}/services/data/v62.0/query",
        params={"q": "SELECT Id FROM Account LIMIT 1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.json()["records"][0]["Id"].startswith("0017X")


def test_password_grant_needs_the_security_token_appended(shared: Emulator) -> None:
    org = shared.org("amer")
    user = org.users[0]
    form = {
        "grant_type": "password",
        "client_id": org.app.client_id,
        "client_secret": org.app.client_secret,
        "username": user.username,
    }
    assert _token(shared, **form, password=user.password + user.security_token).status_code == 200
    refused = _token(shared, **form, password=user.password)
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "authentication failure"},
    )


def test_jwt_bearer_grant_checks_the_signature_against_the_org_certificate(shared: Emulator) -> None:
    response = _token(shared, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=_assertion(shared))
    assert response.status_code == 200
    assert f"/id/{shared.org('emea').org_id}/" in response.json()["id"]


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"aud": "https://elsewhere.example"}, "audience is invalid"),
        ({"exp": int(time.time()) - 10}, "expired authorization code"),
        ({"sub": "nobody@emea.orgfeed.example"}, "user hasn't approved this consumer"),
    ],
)
def test_jwt_bearer_errors_name_what_is_wrong(shared: Emulator, claims: dict, description: str) -> None:
    response = _token(
        shared, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=_assertion(shared, **claims)
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_grant", "error_description": description},
    )


def test_jwt_signed_by_another_key_is_an_invalid_assertion(shared: Emulator) -> None:
    other_key, _ = make_certificate("someone-else")
    response = _token(
        shared, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=_assertion(shared, key=other_key)
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "invalid assertion"},
    )


def test_unknown_client_id_is_invalid_client_id(shared: Emulator) -> None:
    response = _token(shared, grant_type="client_credentials", client_id="3MVG9nope", client_secret="x")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_client_id", "error_description": "client identifier invalid"},
    )


def test_wrong_client_secret_is_invalid_client(shared: Emulator) -> None:
    response = _token(
        shared, grant_type="client_credentials", client_id=shared.org("amer").app.client_id, client_secret="wrong"
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_client", "error_description": "invalid client credentials"},
    )


def test_unknown_grant_type_is_unsupported(shared: Emulator) -> None:
    response = _token(shared, grant_type="authorization_code", code="x")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
    )
