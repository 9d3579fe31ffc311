"""Users' approvals of a connected app: refresh tokens, and the authorization codes that lead to them.

Salesforce Help, "OAuth 2.0 Web Server Flow for Web App Integration": an authorization code is good
for one token request within 15 minutes; "OAuth 2.0 Refresh Token Flow for Renewed Sessions": a
refresh token (issued by the web server flow) gets new access tokens until it is revoked (the
emulated connected app's refresh token policy is "valid until revoked", without rotation).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.emulator.clock import Clock

CODE_LIFETIME = timedelta(minutes=15)
SCOPE = "refresh_token api"  # the emulated connected app's OAuth scopes, as a token response lists them


@dataclass(frozen=True)
class RefreshToken:
    """A refresh token: the org, app and user it stands for."""

    token: str
    org: str
    client_id: str
    user_id: str


@dataclass(frozen=True)
class AuthorizationCode:
    """A code the authorize endpoint handed to a redirect URI, with what the token request must repeat."""

    code: str
    org: str
    client_id: str
    user_id: str
    redirect_uri: str
    expires_at: datetime
    code_challenge: str | None  # PKCE: base64url(SHA-256(code_verifier)), when the client sent one


class ApprovalStore:
    """Issues, finds and revokes refresh tokens and authorization codes; thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._refresh_tokens: dict[str, RefreshToken] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._lock = threading.Lock()

    def issue_refresh_token(self, org: str, client_id: str, user_id: str, token: str | None = None) -> str:
        """Return a new refresh token (or register `token`) for a user's approval of an app."""
        token = token or f"5Aep861{secrets.token_urlsafe(64)}"
        with self._lock:
            self._refresh_tokens[token] = RefreshToken(token, org, client_id, user_id)
        return token

    def find_refresh_token(self, token: str) -> RefreshToken | None:
        with self._lock:
            return self._refresh_tokens.get(token)

    def revoke_refresh_token(self, token: str) -> bool:
        """Forget a refresh token; return whether it existed."""
        with self._lock:
            return self._refresh_tokens.pop(token, None) is not None

    def issue_code(
        self, org: str, client_id: str, user_id: str, redirect_uri: str, code_challenge: str | None
    ) -> AuthorizationCode:
        code = AuthorizationCode(
            f"aPrx{secrets.token_urlsafe(48)}",
            org,
            client_id,
            user_id,
            redirect_uri,
            self.clock.now() + CODE_LIFETIME,
            code_challenge,
        )
        with self._lock:
            self._codes[code.code] = code
        return code

    def redeem_code(self, code: str) -> AuthorizationCode | None:
        """Return the authorization code and use it up (a code serves one token request, even a failed one)."""
        with self._lock:
            return self._codes.pop(code, None)
