"""The OAuth 2.0 endpoints: token (five grants), authorize (the web server flow) and revoke.

Grants of the token endpoint: client credentials, username-password, JWT bearer, authorization
code and refresh token, as Salesforce Help describes them ("OAuth Authorization Flows"). Refresh
tokens come from the authorization code (web server) flow only: "No refresh token is issued" by
the username-password flow (REST API Developer Guide, "Understanding the Username-Password OAuth
Authentication Flow"), nor by the client credentials and JWT bearer flows. Error bodies follow
Salesforce Help, "OAuth 2.0 Token Endpoint Errors" (`invalid_client_id`, `invalid_client`,
`invalid_grant`, `redirect_uri_mismatch`, `unsupported_grant_type`), all with status 400; the
revoke endpoint answers 400 `invalid_token` ("Revoke OAuth Tokens").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from app.emulator.approvals import SCOPE, ApprovalStore
from app.emulator.clock import Clock
from app.emulator.errors import OAuthError
from app.emulator.org import Org
from app.emulator.sessions import Session, SessionStore

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
INVALID_REFRESH_TOKEN = "expired access/refresh token"


@dataclass(frozen=True)
class Authority:
    """What the OAuth endpoints consult: the orgs, their sessions and approvals, the clock, the base URL."""

    orgs: Sequence[Org]
    sessions: SessionStore
    approvals: ApprovalStore
    clock: Clock
    base_url: str


def grant_token(authority: Authority, form: Mapping[str, str], authorization: str | None) -> dict[str, str]:
    """Return the token response for a token request, or raise OAuthError."""
    grant = form.get("grant_type", "")
    refresh_token = None
    renewed_from = None
    if grant == "client_credentials":
        org, user_id = _client_credentials(form, authorization, authority.orgs)
    elif grant == "password":
        org, user_id = _password(form, authority.orgs)
    elif grant == JWT_GRANT:
        org, user_id = _jwt_bearer(form.get("assertion", ""), authority.orgs, authority.clock, authority.base_url)
    elif grant == "authorization_code":
        org, user_id = _authorization_code(authority, form, authorization)
        refresh_token = authority.approvals.issue_refresh_token(org.name, org.app.client_id, user_id)
    elif grant == "refresh_token":
        org, user_id = _refresh_token(authority, form, authorization)
        renewed_from = form["refresh_token"]
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    session = authority.sessions.issue(org.name, org.org_id, user_id, refresh_token or renewed_from)
    body = token_response(session, org, authority.base_url)
    if refresh_token or renewed_from:
        body["scope"] = SCOPE
    if refresh_token:
        body["refresh_token"] = refresh_token
    return body


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


def authorize(authority: Authority, args: Mapping[str, str]) -> str:
    """Return where GET /services/oauth2/authorize redirects: the redirect URI with a code (or an error).

    There is no login page: the user named by `login_hint` (else the org's integration user)
    approves at once. An unknown client or an unregistered redirect URI cannot be redirected to,
    so those raise OAuthError (answered 400) as Salesforce shows them on its error page.
    """
    org = _org_of_client(args.get("client_id", ""), authority.orgs)
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri != org.app.callback_url:
        raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
    state = {"state": args["state"]} if "state" in args else {}
    if args.get("response_type") != "code":
        # The user-agent flow (response_type=token) is not emulated.
        error = {"error": "unsupported_response_type", "error_description": "response type not supported"}
        return f"{redirect_uri}?{urlencode({**error, **state})}"
    user = org.user(args["login_hint"]) if args.get("login_hint") else org.users[0]
    if user is None:
        error = {"error": "access_denied", "error_description": "end-user denied authorization"}
        return f"{redirect_uri}?{urlencode({**error, **state})}"
    code = authority.approvals.issue_code(
        org.name, org.app.client_id, user.user_id, redirect_uri, args.get("code_challenge") or None
    )
    return f"{redirect_uri}?{urlencode({'code': code.code, **state})}"


def revoke_token(authority: Authority, token: str) -> None:
    """Revoke an access token, or a refresh token and every access token renewed from it."""
    if authority.sessions.revoke(token):
        return
    if token and authority.approvals.revoke_refresh_token(token):
        authority.sessions.revoke_renewed_from(token)
        return
    raise OAuthError("invalid_token", "invalid token")


def _client_of(form: Mapping[str, str], authorization: str | None) -> tuple[str, str]:
    """Return (client_id, client_secret) from the form or an HTTP Basic Authorization header."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:]).decode()
        except ValueError:
            raise OAuthError("invalid_client", "invalid client credentials") from None
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret
    return form.get("client_id", ""), form.get("client_secret", "")


def _confidential_client(form: Mapping[str, str], authorization: str | None, orgs: Sequence[Org]) -> Org:
    """Return the org whose connected app the client id and secret name; raises OAuthError."""
    client_id, client_secret = _client_of(form, authorization)
    org = _org_of_client(client_id, orgs)
    if not hmac.compare_digest(org.app.client_secret, client_secret):
        raise OAuthError("invalid_client", "invalid client credentials")
    return org


def _authorization_code(authority: Authority, form: Mapping[str, str], authorization: str | None) -> tuple[Org, str]:
    org = _confidential_client(form, authorization, authority.orgs)
    code = authority.approvals.redeem_code(form.get("code", ""))
    if code is None or code.client_id != org.app.client_id:
        raise OAuthError("invalid_grant", "invalid authorization code")
    if code.expires_at <= authority.clock.now():
        raise OAuthError("invalid_grant", "expired authorization code")
    if form.get("redirect_uri", "") != code.redirect_uri:
        raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
    if code.code_challenge is not None:
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if not verifier or not hmac.compare_digest(expected, code.code_challenge):
            raise OAuthError("invalid_grant", "invalid code verifier")
    return org, code.user_id


def _refresh_token(authority: Authority, form: Mapping[str, str], authorization: str | None) -> tuple[Org, str]:
    org = _confidential_client(form, authorization, authority.orgs)
    approval = authority.approvals.find_refresh_token(form.get("refresh_token", ""))
    if approval is None or approval.client_id != org.app.client_id:
        raise OAuthError("invalid_grant", INVALID_REFRESH_TOKEN)
    return org, approval.user_id


def _client_credentials(form: Mapping[str, str], authorization: str | None, orgs: Sequence[Org]) -> tuple[Org, str]:
    org = _confidential_client(form, authorization, orgs)
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
