"""The OAuth 2.0 token endpoint: client credentials, username-password and JWT bearer grants.

Error bodies follow Salesforce Help, "OAuth 2.0 Token Endpoint Errors" (`invalid_client_id`,
`invalid_client`, `invalid_grant`, `unsupported_grant_type`), all with status 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from app.emulator.clock import Clock
from app.emulator.errors import OAuthError
from app.emulator.org import Org
from app.emulator.sessions import Session, SessionStore

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def grant_token(
    form: Mapping[str, str],
    authorization: str | None,
    orgs: Sequence[Org],
    sessions: SessionStore,
    clock: Clock,
    base_url: str,
) -> dict[str, str]:
    """Return the token response for a token request, or raise OAuthError."""
    grant = form.get("grant_type", "")
    if grant == "client_credentials":
        org, user_id = _client_credentials(form, authorization, orgs)
    elif grant == "password":
        org, user_id = _password(form, orgs)
    elif grant == JWT_GRANT:
        org, user_id = _jwt_bearer(form.get("assertion", ""), orgs, clock, base_url)
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    session = sessions.issue(org.name, org.org_id, user_id)
    return token_response(session, org, base_url)


def token_response(session: Session, org: Org, base_url: str) -> dict[str, str]:
    """Return the JSON body of a successful token request (REST API Developer Guide, OAuth flows)."""
    issued_at = str(int(session.issued_at.timestamp() * 1000))
    identity = f"{base_url}/id/{org.org_id}/{session.user_id}"
    signed = hmac.new(org.app.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256)
    return {
        "access_token": session.token,
        "instance_url": base_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(signed.digest()).decode(),
        "scope": "api",
    }


def _client_credentials(form: Mapping[str, str], authorization: str | None, orgs: Sequence[Org]) -> tuple[Org, str]:
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    if authorization and authorization.lower().startswith("basic "):
        decoded = base64.b64decode(authorization[6:]).decode()
        client_id, _, client_secret = decoded.partition(":")
    org = _org_of_client(client_id, orgs)
    if not hmac.compare_digest(org.app.client_secret, client_secret):
        raise OAuthError("invalid_client", "invalid client credentials")
    user = org.user(org.app.run_as_username)
    if user is None:
        raise OAuthError("invalid_grant", "no client credentials user enabled")
    return org, user.user_id


def _password(form: Mapping[str, str], orgs: Sequence[Org]) -> tuple[Org, str]:
    org = _org_of_client(form.get("client_id", ""), orgs)
    if not hmac.compare_digest(org.app.client_secret, form.get("client_secret", "")):
        raise OAuthError("invalid_client", "invalid client credentials")
    user = org.user(form.get("username", ""))
    # The password must carry the user's security token appended (no trusted IP ranges here).
    if user is None or form.get("password", "") != user.password + user.security_token:
        raise OAuthError("invalid_grant", "authentication failure")
    return org, user.user_id


def _jwt_bearer(assertion: str, orgs: Sequence[Org], clock: Clock, base_url: str) -> tuple[Org, str]:
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    org = _org_of_client(str(claims.get("iss", "")), orgs)
    public_key = x509.load_pem_x509_certificate(org.app.certificate_pem.encode()).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):  # RS256 needs an RSA key: PyJWT refuses any other
        raise OAuthError("invalid_grant", "invalid assertion")
    audiences = [base_url, "https://login.salesforce.com", "https://test.salesforce.com"]
    try:
        claims = jwt.decode(
            assertion,
            public_key,
            algorithms=["RS256"],
            audience=audiences,
            options={"verify_exp": False, "require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.InvalidAudienceError:
        raise OAuthError("invalid_grant", "audience is invalid") from None
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    # Expiry is checked against the emulator's clock, which tests may advance.
    if float(claims["exp"]) <= clock.now().timestamp():
        raise OAuthError("invalid_grant", "expired authorization code")
    user = org.user(str(claims["sub"]))
    if user is None:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return org, user.user_id


def _org_of_client(client_id: str, orgs: Sequence[Org]) -> Org:
    for org in orgs:
        if client_id and hmac.compare_digest(org.app.client_id, client_id):
            return org
    raise OAuthError("invalid_client_id", "client identifier invalid")
