"""OAuth 2.0 token requests against an org's login_url: client credentials, JWT bearer, username-password, session."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import requests

from app.config import OrgConfig
from app.salesforce import LoginFailed
from app.salesforce.ids import to_18_char_id

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Salesforce accepts a JWT assertion for at most 3 minutes after it is issued.
JWT_LIFETIME_SECONDS = 180


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str
    org_id: str | None  # 18 characters; None when the token does not say (a `session` token without an org prefix)
    user_id: str | None = None


def request_token(org: OrgConfig, session: requests.Session, *, timeout: float = 60.0) -> Token:
    """A fresh access token for `org`; raises LoginFailed naming the org and the variables to check."""
    if org.auth == "session":
        return _session_token(org)
    form = _token_form(org)
    url = f"{org.login_url}{TOKEN_PATH}"
    try:
        response = session.post(url, data=form, headers={"Accept": "application/json"}, timeout=timeout)
    except requests.RequestException as error:
        raise LoginFailed(f"org {org.name!r}: cannot reach {url}: {_reason(error)} — check login_url") from error
    if response.status_code != 200:
        raise LoginFailed(_login_failure(org, response), error_code=_oauth_error(response), status=response.status_code)
    try:
        body = response.json()
    except ValueError as error:  # a proxy or a broken endpoint: nothing a retry within this run would fix reliably
        raise LoginFailed(
            f"org {org.name!r}: login failed: the token endpoint {url} answered with a body that is not JSON ({error})",
            error_code="MALFORMED_RESPONSE",
            status=response.status_code,
        ) from error
    org_id, user_id = _ids_from_identity_url(body.get("id", ""))
    return Token(
        access_token=body["access_token"], instance_url=body["instance_url"].rstrip("/"), org_id=org_id, user_id=user_id
    )


def _token_form(org: OrgConfig) -> dict[str, str]:
    secrets = org.secrets
    if org.auth == "client_credentials":
        return {
            "grant_type": "client_credentials",
            "client_id": secrets["client_id"],
            "client_secret": secrets["client_secret"],
        }
    if org.auth == "password":
        return {
            "grant_type": "password",
            "client_id": secrets["client_id"],
            "client_secret": secrets["client_secret"],
            "username": secrets["username"],
            "password": secrets["password"] + secrets.get("security_token", ""),
        }
    if org.auth == "jwt":
        return {"grant_type": JWT_GRANT, "assertion": build_jwt_assertion(org)}
    raise LoginFailed(f"org {org.name!r}: auth {org.auth!r} is not a token grant")


def build_jwt_assertion(org: OrgConfig, *, now: float | None = None) -> str:
    """The signed JWT bearer assertion: iss the client id, sub the username, aud the login URL (or `audience`)."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": org.secrets["client_id"],
        "sub": org.secrets["username"],
        "aud": org.audience or org.login_url,
        "exp": issued + JWT_LIFETIME_SECONDS,
    }
    try:
        return jwt.encode(claims, _private_key_pem(org), algorithm="RS256")
    except (ValueError, TypeError) as error:
        variable = org.secret_envs.get("private_key", "the private key variable")
        raise LoginFailed(f"org {org.name!r}: the private key in {variable} cannot sign a JWT: {error}") from error


def _private_key_pem(org: OrgConfig) -> str:
    """The PEM text: the variable holds either the key itself or the path of a file holding it."""
    value = org.secrets["private_key"]
    if "-----BEGIN" in value:
        return value
    path = Path(value.strip()).expanduser()
    try:
        return path.read_text()
    except OSError as error:
        variable = org.secret_envs.get("private_key", "the private key variable")
        raise LoginFailed(
            f"org {org.name!r}: {variable} holds neither a PEM key nor a readable file ({path}: {error.strerror})"
        ) from error


def _session_token(org: OrgConfig) -> Token:
    session_id = org.secrets["session_id"]
    # A Salesforce session id starts with the 15-character org id and an exclamation mark.
    prefix, _, rest = session_id.partition("!")
    org_id = to_18_char_id(prefix) if rest and len(prefix) == 15 and prefix.isalnum() else None
    return Token(access_token=session_id, instance_url=org.instance_url or "", org_id=org_id)


def _ids_from_identity_url(url: str) -> tuple[str | None, str | None]:
    """(org id, user id) from the token's `id`, https://login.salesforce.com/id/<org id>/<user id>."""
    parts = url.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-3] == "id":
        return parts[-2], parts[-1]
    return None, None


def _oauth_error(response: requests.Response) -> str | None:
    try:
        return response.json().get("error")
    except ValueError:
        return None


def _login_failure(org: OrgConfig, response: requests.Response) -> str:
    try:
        body = response.json()
        reason = f"{body.get('error')} ({body.get('error_description')})"
    except ValueError:
        reason = f"HTTP {response.status_code}: {response.text[:200]}"
    variables = ", ".join(org.secret_envs.values())
    return f"org {org.name!r}: login failed: {reason} — check {variables} and the app's setup at {org.login_url}"


def _reason(error: Exception) -> str:
    text = str(error)
    return text if len(text) < 300 else text[:300] + "…"
