"""The access log: one row per request in orgfeed.access_log, written in the background in batches."""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time

from sqlalchemy import Engine, insert

from app.warehouse.database import database_unavailable
from app.warehouse.metadata import access_log

log = logging.getLogger(__name__)


class AccessLog:
    """Writes access-log rows in the background, in batches, so no request waits for the log's commit.

    A batch is whatever arrived within LINGER seconds of its first row (at most BATCH rows): one
    transaction per batch however busy the feed is. `flush()` waits until everything recorded so far is
    written; it runs at interpreter exit, which gunicorn's workers reach on SIGTERM after their last
    response, so a clean shutdown loses no row. While the database is unavailable (a restart, a
    failover) the batch in hand is retried, so those requests are logged too.
    """

    BATCH = 500
    LINGER = 0.2
    RETRY_SECONDS = 60.0  # requests keep queueing meanwhile, and are written once the database is back

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
            deadline = time.monotonic() + self.LINGER
            while len(batch) < self.BATCH:
                try:
                    batch.append(self._queue.get(timeout=max(deadline - time.monotonic(), 0)))
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:  # the responses have gone out: losing log lines must not stop the server
                log.exception("could not write %d access log entries", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write(self, batch: list[dict]) -> None:
        """Inserts `batch`, waiting out a database restart or failover for up to RETRY_SECONDS."""
        deadline, delay = time.monotonic() + self.RETRY_SECONDS, 0.5
        while True:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(access_log), batch)
                return
            except Exception as error:
                if not database_unavailable(error) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
