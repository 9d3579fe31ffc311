"""POST /services/oauth2/token: client credentials, password and JWT bearer grants, and their errors."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

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
    response = _token(shared, grant_type="magic_password", code="x")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
    )


def _client(emulator: Emulator, org: str = "amer") -> dict[str, str]:
    app = emulator.org(org).app
    return {"client_id": app.client_id, "client_secret": app.client_secret}


def _authorize(emulator: Emulator, org: str = "amer", **params: str) -> requests.Response:
    """GET the authorize endpoint as a browser would, without following its redirect."""
    app = emulator.org(org).app
    query = {"response_type": "code", "client_id": app.client_id, "redirect_uri": app.callback_url, **params}
    return https_session(emulator).get(
        f"{emulator.base_url}/services/oauth2/authorize", params=query, allow_redirects=False
    )


def _redirect_query(response: requests.Response) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def _rest_status(emulator: Emulator, token: str) -> int:
    return (
        https_session(emulator)
        .get(f"{emulator.base_url}/services/data/v62.0/limits", headers={"Authorization": f"Bearer {token}"})
        .status_code
    )


def test_password_grant_issues_no_refresh_token(shared: Emulator) -> None:
    # REST API Developer Guide, "Understanding the Username-Password OAuth Authentication Flow": "No refresh
    # token is issued."
    org = shared.org("amer")
    user = org.users[0]
    body = _token(
        shared,
        grant_type="password",
        **_client(shared),
        username=user.username,
        password=user.password + user.security_token,
    ).json()
    assert "refresh_token" not in body


def test_web_server_flow_redirects_with_a_code_that_buys_tokens_and_a_refresh_token(shared: Emulator) -> None:
    authorized = _authorize(shared, state="xyz 1")
    assert authorized.status_code == 302
    assert authorized.headers["Location"].startswith(shared.org("amer").app.callback_url + "?")
    query = _redirect_query(authorized)
    assert query["state"] == "xyz 1"
    response = _token(
        shared,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=shared.org("amer").app.callback_url,
        **_client(shared),
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "refresh_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
        "scope",
    }
    assert body["scope"] == "refresh_token api"
    assert _rest_status(shared, body["access_token"]) == 200
    renewed = _token(shared, grant_type="refresh_token", refresh_token=body["refresh_token"], **_client(shared))
    assert renewed.status_code == 200 and _rest_status(shared, renewed.json()["access_token"]) == 200


def test_authorize_logs_in_the_user_named_by_login_hint(shared: Emulator) -> None:
    org = shared.org("emea")
    query = _redirect_query(_authorize(shared, "emea", login_hint=org.users[1].username))
    body = _token(
        shared,
        grant_type="authorization_code",
        code=query["code"],
        redirect_uri=org.app.callback_url,
        **_client(shared, "emea"),
    ).json()
    assert body["id"] == f"{shared.base_url}/id/{org.org_id}/{org.users[1].user_id}"


def test_authorize_refuses_a_redirect_uri_the_connected_app_does_not_list(shared: Emulator) -> None:
    response = _authorize(shared, redirect_uri="https://evil.example/callback")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "redirect_uri_mismatch", "error_description": "redirect_uri must match configuration"},
    )


def test_authorize_redirects_an_unsupported_response_type_as_an_error(shared: Emulator) -> None:
    response = _authorize(shared, response_type="token", state="s")
    assert response.status_code == 302
    assert _redirect_query(response) == {
        "error": "unsupported_response_type",
        "error_description": "response type not supported",
        "state": "s",
    }


def test_an_authorization_code_serves_one_token_request(shared: Emulator) -> None:
    code = _redirect_query(_authorize(shared))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": shared.org("amer").app.callback_url}
    assert _token(shared, **form, **_client(shared)).status_code == 200
    again = _token(shared, **form, **_client(shared))
    assert (again.status_code, again.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "invalid authorization code"},
    )


def test_an_authorization_code_expires_after_fifteen_minutes(emulator: Emulator) -> None:
    code = _redirect_query(_authorize(emulator))["code"]
    emulator.advance_clock(15 * 60 + 1)
    response = _token(
        emulator,
        grant_type="authorization_code",
        code=code,
        redirect_uri=emulator.org("amer").app.callback_url,
        **_client(emulator),
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "expired authorization code"},
    )


def test_the_code_exchange_repeats_the_redirect_uri_and_the_pkce_verifier(shared: Emulator) -> None:
    verifier = "a-verifier-of-at-least-forty-three-characters-0123456789"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    callback = shared.org("amer").app.callback_url
    wrong_uri = _token(
        shared,
        grant_type="authorization_code",
        code=_redirect_query(_authorize(shared))["code"],
        redirect_uri="http://localhost:1717/Other",
        **_client(shared),
    )
    assert wrong_uri.json() == {
        "error": "redirect_uri_mismatch",
        "error_description": "redirect_uri must match configuration",
    }
    code = _redirect_query(_authorize(shared, code_challenge=challenge))["code"]
    wrong_verifier = _token(
        shared,
        grant_type="authorization_code",
        code=code,
        redirect_uri=callback,
        code_verifier="nope",
        **_client(shared),
    )
    assert wrong_verifier.json() == {"error": "invalid_grant", "error_description": "invalid code verifier"}
    code = _redirect_query(_authorize(shared, code_challenge=challenge))["code"]
    right = _token(
        shared,
        grant_type="authorization_code",
        code=code,
        redirect_uri=callback,
        code_verifier=verifier,
        **_client(shared),
    )
    assert right.status_code == 200


def test_refresh_token_grant_renews_the_session_after_it_expired(emulator: Emulator) -> None:
    # Salesforce Help, "OAuth 2.0 Refresh Token Flow for Renewed Sessions": grant_type, refresh_token,
    # client_id and client_secret; the answer has no new refresh token (no rotation).
    refresh = next(o for o in emulator.describe_orgs() if o["name"] == "amer")["refresh_token"]
    old = emulator.session_id("amer")
    emulator.expire_sessions()
    assert _rest_status(emulator, old) == 401
    response = _token(emulator, grant_type="refresh_token", **refresh)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature", "scope"}
    assert body["id"] == f"{emulator.base_url}/id/{emulator.org('amer').org_id}/{emulator.org('amer').users[0].user_id}"
    assert _rest_status(emulator, body["access_token"]) == 200


def test_refresh_token_grant_takes_the_client_from_basic_authorization(shared: Emulator) -> None:
    app = shared.org("emea").app
    basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
    response = https_session(shared).post(
        f"{shared.base_url}/services/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": app.refresh_token},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert f"/id/{shared.org('emea').org_id}/" in response.json()["id"]


INVALID_REFRESH = {"error": "invalid_grant", "error_description": "expired access/refresh token"}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "invalid client credentials"}


@pytest.mark.parametrize(
    ("replaced", "error"),
    [
        (lambda emu: {"refresh_token": "5Aep861nothing"}, INVALID_REFRESH),
        (lambda emu: {"refresh_token": emu.org("emea").app.refresh_token}, INVALID_REFRESH),  # another app's
        (lambda emu: {"client_secret": "wrong"}, INVALID_CLIENT),
        (lambda emu: {"client_secret": ""}, INVALID_CLIENT),
        (
            lambda emu: {"client_id": "3MVG9nope"},
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
    ],
)
def test_refresh_token_grant_errors(shared: Emulator, replaced, error: dict) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": shared.org("amer").app.refresh_token, **_client(shared)}
    response = _token(shared, **{**form, **replaced(shared)})
    assert (response.status_code, response.json()) == (400, error)


def test_revoking_a_refresh_token_refuses_it_and_ends_the_sessions_renewed_from_it(emulator: Emulator) -> None:
    # Salesforce Help, "Revoke OAuth Tokens": revoking a refresh token revokes its access tokens too.
    refresh = next(o for o in emulator.describe_orgs() if o["name"] == "amer")["refresh_token"]
    access = _token(emulator, grant_type="refresh_token", **refresh).json()["access_token"]
    revoked = https_session(emulator).post(
        f"{emulator.base_url}/services/oauth2/revoke", data={"token": refresh["refresh_token"]}
    )
    assert (revoked.status_code, revoked.content) == (200, b"")
    assert _rest_status(emulator, access) == 401
    again = _token(emulator, grant_type="refresh_token", **refresh)
    assert (again.status_code, again.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "expired access/refresh token"},
    )


def test_revoking_an_access_token_by_get_ends_that_session_only(emulator: Emulator) -> None:
    kept, ended = emulator.session_id("amer"), emulator.session_id("amer")
    response = https_session(emulator).get(f"{emulator.base_url}/services/oauth2/revoke", params={"token": ended})
    assert response.status_code == 200
    assert (_rest_status(emulator, ended), _rest_status(emulator, kept)) == (401, 200)


def test_revoking_an_unknown_token_is_invalid_token(shared: Emulator) -> None:
    response = https_session(shared).post(f"{shared.base_url}/services/oauth2/revoke", data={"token": "nothing"})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_token", "error_description": "invalid token"},
    )
