"""Feed credentials: generated passwords, scrypt hashes, constant-time checks and slowing repeated failures.

A hash is stored as `scrypt$n$r$p$salt$digest` (base64), so parameters can change later
without invalidating old hashes. Verifying costs one scrypt (~50 ms) the first time a
(hash, password) pair is seen in a process; a successful check is remembered as an HMAC under a
per-process key, so a busy client pays it once while expiry and revocation are still read
from the database on every request.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PASSWORD_BYTES = 24  # 32 URL-safe characters
# A hash of a random password, checked when a username is unknown so that answer takes as long.
_DUMMY_PASSWORD = secrets.token_urlsafe(PASSWORD_BYTES)


def generate_password() -> str:
    """A new random password (URL-safe, 32 characters)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def generate_username(feed: str) -> str:
    """A username for `feed`: its name and a random suffix, at most 63 characters."""
    return f"{feed[:50]}_{secrets.token_hex(4)}"


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The storable scrypt hash of `password` with a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024)
    return "$".join(
        ["scrypt", str(n), str(r), str(p), base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    )


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash; compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=256 * 1024 * 1024,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a password nobody has, made once (on first use: hashing takes a scrypt)."""
    return hash_password(_DUMMY_PASSWORD)


def burn_verification(password: str) -> None:
    """Spends the time of one verification (for unknown usernames, so timing does not reveal them)."""
    verify_password(password, _dummy_hash())


class VerifiedCache:
    """Remembers (stored hash, password) pairs that verified, as HMACs under a per-process key."""

    def __init__(self, size: int = 1024):
        self._key = secrets.token_bytes(32)
        self._seen: dict[bytes, None] = {}
        self._size = size
        self._lock = threading.Lock()

    def _mark(self, stored: str, password: str) -> bytes:
        return hmac.new(self._key, f"{stored}\x00{password}".encode(), hashlib.sha256).digest()

    def knows(self, password: str, stored: str) -> bool:
        """True when this pair verified before (no scrypt)."""
        mark = self._mark(stored, password)
        with self._lock:
            return mark in self._seen

    def verify(self, password: str, stored: str) -> bool:
        mark = self._mark(stored, password)
        with self._lock:
            if mark in self._seen:
                return True
        if not verify_password(password, stored):
            return False
        with self._lock:
            if len(self._seen) >= self._size:
                self._seen.pop(next(iter(self._seen)))
            self._seen[mark] = None
        return True


@dataclass(frozen=True)
class ThrottlePolicy:
    """After `free_failures` failed logins from one client within `window_seconds`, each further
    failure is answered after `base_delay * 2**extra` seconds, at most `max_delay`."""

    free_failures: int = 5
    window_seconds: float = 300.0
    base_delay: float = 0.25
    max_delay: float = 5.0


class FailureThrottle:
    """Counts failed logins per client (in this process) and says how long to delay the next 401."""

    def __init__(self, policy: ThrottlePolicy = ThrottlePolicy()):
        self.policy = policy
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def record_failure(self, client: str) -> float:
        """Counts a failure from `client`; returns the seconds to wait before answering it."""
        now = time.monotonic()
        with self._lock:
            count, since = self._failures.get(client, (0, now))
            if now - since > self.policy.window_seconds:
                count, since = 0, now
            count += 1
            self._failures[client] = (count, since)
            if len(self._failures) > 10000:  # bound memory under a spray of clients
                self._failures.pop(next(iter(self._failures)))
        extra = count - self.policy.free_failures
        if extra <= 0:
            return 0.0
        return min(self.policy.base_delay * 2 ** (extra - 1), self.policy.max_delay)

    def record_success(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
