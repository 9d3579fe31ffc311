"""Access tokens: which org and user each one belongs to, and when it expires."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.emulator.clock import Clock

SESSION_TIMEOUT = timedelta(hours=2)  # Salesforce's default session timeout


@dataclass(frozen=True)
class Session:
    token: str
    org: str
    user_id: str
    issued_at: datetime
    expires_at: datetime
    refresh_token: str | None = None  # the refresh token this session was renewed from, if any


class SessionStore:
    """Issues and checks access tokens; thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def issue(self, org: str, org_id: str, user_id: str, refresh_token: str | None = None) -> Session:
        """Return a new session; tokens look like Salesforce's: `<org id 15>!<opaque>`."""
        now = self.clock.now()
        token = f"{org_id[:15]}!{secrets.token_urlsafe(72)}"
        session = Session(token, org, user_id, now, now + SESSION_TIMEOUT, refresh_token)
        with self._lock:
            self._sessions[token] = session
        return session

    def find(self, token: str) -> Session | None:
        """Return the live session of `token`, or None if it is unknown or expired."""
        with self._lock:
            session = self._sessions.get(token)
        if session is None or session.expires_at <= self.clock.now():
            return None
        return session

    def revoke(self, token: str) -> bool:
        """End one session; return whether it was live."""
        with self._lock:
            return self._sessions.pop(token, None) is not None

    def revoke_renewed_from(self, refresh_token: str) -> int:
        """End every session renewed from `refresh_token` (revoking it revokes them); return how many."""
        with self._lock:
            tokens = [t for t, s in self._sessions.items() if s.refresh_token == refresh_token]
            for token in tokens:
                del self._sessions[token]
        return len(tokens)

    def expire_all(self) -> int:
        """End every session; return how many there were."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
        return count
