"""HTTP Basic authentication of a request against a feed's credentials, and the access log.

One query reads the feed (views, read role) and the username's usable credentials; the
password is checked against each in constant time. Unknown feeds and users cost the same
scrypt as a wrong password, and every failure is answered alike (401).
"""

from __future__ import annotations

import atexit
import base64
import binascii
import logging
import queue
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert

from app.odata.credentials import VerifiedCache, burn_verification
from app.warehouse.metadata import access_log

log = logging.getLogger(__name__)

_FEED_SQL = """
select f.views, f.role_name, c.password_hash
from orgfeed.feeds f
left join orgfeed.feed_credentials c
  on c.feed = f.name and c.username = %s and c.revoked_at is null and (c.expires_at is null or c.expires_at > now())
where f.name = %s
"""


@dataclass(frozen=True)
class Feed:
    name: str
    views: tuple[str, ...]
    role_name: str | None
    username: str


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic ...` header; None when absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (username, password) if sep else None


def authenticate(engine: Engine, cache: VerifiedCache, feed: str, username: str, password: str) -> Feed | None:
    """The feed when `username`/`password` is one of its usable credentials; None otherwise."""
    if len(username) > 63 or len(password) > 1024:
        burn_verification(password[:1024])
        return None
    fairy = engine.raw_connection()
    try:
        conn = fairy.driver_connection
        rows = conn.execute(_FEED_SQL, (username, feed)).fetchall()
        conn.rollback()
    finally:
        fairy.close()
    hashes = [stored for _, _, stored in rows if stored]
    if not hashes:
        burn_verification(password)
        return None
    if not any(cache.verify(password, stored) for stored in hashes):
        return None
    views, role_name, _ = rows[0]
    return Feed(feed, tuple(views), role_name, username)


class AccessLog:
    """Writes access-log rows in the background, in batches, so no request waits for the log's commit.

    `flush()` waits until everything recorded so far is written (tests, shutdown).
    """

    BATCH = 500

    def __init__(self, engine: Engine):
        self.engine = engine
        self._queue: queue.Queue[dict] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record(self, entry: dict) -> None:
        self._queue.put(entry)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="orgfeed-access-log", daemon=True)
                    self._thread.start()
                    atexit.register(self.flush)

    def flush(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(access_log), batch)
            except Exception:  # the responses have gone out: losing log lines must not stop the server
                log.exception("could not write %d access log entries", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
