"""Mapping locks: at most one sync at a time works on one (org, object), across processes and hosts.

A sync run holds its locks in one `LockSession`: a connection of its own with one transaction
kept open from the first lock to the end of the run, in which it takes and releases advisory
locks (`pg_try_advisory_lock` / `pg_advisory_unlock`, one per mapping). Why this shape:

- Poolers: behind PgBouncer in transaction mode (Heroku's connection pooling) each transaction may
  run on another server connection, so a session lock taken in one transaction and released in the
  next leaks onto a pooled connection and later syncs skip the object. An open transaction keeps one
  server connection, so every lock and unlock of the run lands on the same one; the session ends its
  transaction only after `pg_advisory_unlock_all()`, so no lock outlives it on a pooled connection.
- One server connection per run, not one per object: an open transaction per object would pin two
  server connections for each object in flight (its lock and its work) and can starve a small pool.
- Crashes: when the holder dies its connection closes mid-transaction; PostgreSQL (or PgBouncer,
  which closes the server connection of a client that disconnects mid-transaction) ends the
  session and the locks go at once. Anything unexpected on the lock connection is handled the same
  way: the connection is closed without ending the transaction, never returned to a pool.
- Hangs: a holder that stops answering without closing its connection is cut off by the server:
  the transaction sets `idle_in_transaction_session_timeout` (IDLE_TIMEOUT_SECONDS) and a heartbeat
  thread runs `select 1` every HEARTBEAT_SECONDS to stay under it. A failed heartbeat marks every
  lock of the session lost. Between pages the sync calls `MappingLock.check()`, which asks the
  server the same way, and stops the object when its session has gone (a database restart), so it
  never works on an object another worker may have taken since.

The transaction writes nothing, so it holds no transaction id and does not hold back vacuum. Its
application_name names the holder's host and pid, for pg_stat_activity and for the message of a
sync that finds a lock taken.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from app.warehouse import WarehouseError

HEARTBEAT_SECONDS = 10.0
IDLE_TIMEOUT_SECONDS = 60.0

_KEY = "hashtextextended(:key, 0)"


class MappingLockLost(WarehouseError):
    """The lock session of a mapping ended under the sync (connection lost, server restarted, timed out)."""

    error_code = "LOCK_LOST"


@dataclass(frozen=True)
class LockHolder:
    """Who holds a mapping lock, from pg_stat_activity: the holder's application_name and since when."""

    application_name: str
    since: datetime | None


def mapping_lock_key(org: str, sobject: str) -> str:
    """The text hashed into the advisory lock key of mapping (`org`, `sobject`)."""
    return f"orgfeed/mapping/{org}/{sobject}"


class _Session:
    """One connection and its open transaction; `lost` says why it ended under its holders (None while alive)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.lost: str | None = None


class MappingLock:
    """A held lock of one mapping; `check()` between units of work, `release()` when done (also on exit)."""

    def __init__(self, locks: LockSession, session: _Session, org: str, sobject: str):
        self._locks, self._session = locks, session
        self.org, self.sobject = org, sobject
        self._released = False

    def __enter__(self) -> MappingLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def lost(self) -> bool:
        return self._session.lost is not None

    def check(self) -> None:
        """Raises MappingLockLost unless the lock's session is still alive (one round trip to the server)."""
        self._locks._probe(self._session)
        if self._session.lost is not None:
            raise MappingLockLost(
                f"lost the lock of {self.org}.{self.sobject} ({self._session.lost}): stopped this object so that it "
                "is never synced twice at once; the next run continues from the committed watermark"
            )

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._locks._unlock(self._session, self.org, self.sobject)


class LockSession:
    """The mapping locks of one sync run, held in one open transaction on a connection of `engine` of its own.

    Thread-safe. Opened at the first `acquire`, ended by `close()` (or on exit), which releases every
    lock. `heartbeat_seconds` and `idle_timeout_seconds` are parameters for tests.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS,
    ):
        self.engine = engine
        self.heartbeat_seconds = heartbeat_seconds
        self.idle_timeout_seconds = idle_timeout_seconds
        self._mutex = threading.Lock()
        self._session: _Session | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def __enter__(self) -> LockSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def acquire(self, org: str, sobject: str) -> MappingLock | None:
        """The lock of mapping (`org`, `sobject`) if no other session holds it, else None.

        Raises the driver's error when the database cannot be reached.
        """
        with self._mutex:
            session = self._open()
            try:
                taken = session.conn.execute(
                    text(f"select pg_try_advisory_lock({_KEY})"), {"key": mapping_lock_key(org, sobject)}
                ).scalar_one()
            except SQLAlchemyError as error:
                self._abandon(session, error)
                raise
        return MappingLock(self, session, org, sobject) if taken else None

    def _open(self) -> _Session:
        """The live session, opening one (connection, transaction, heartbeat) when there is none."""
        if self._session is not None and self._session.lost is None:
            return self._session
        conn = self.engine.connect()
        try:
            conn.begin()
            conn.execute(
                text(
                    "select set_config('idle_in_transaction_session_timeout', :timeout, true), "
                    "set_config('application_name', :name, true)"
                ),
                {
                    "timeout": f"{int(self.idle_timeout_seconds * 1000)}ms",
                    "name": f"orgfeed-sync {socket.gethostname()} pid {os.getpid()}"[:63],
                },
            )
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        self._session = _Session(conn)
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name="orgfeed-lock-heartbeat", daemon=True)
            self._heartbeat.start()
        return self._session

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            if self._session is not None:
                self._probe(self._session)

    def _probe(self, session: _Session) -> None:
        """Runs `select 1` in `session`'s transaction, marking it lost when that fails."""
        with self._mutex:
            if session.lost is not None:
                return
            try:
                session.conn.execute(text("select 1"))
            except SQLAlchemyError as error:
                self._abandon(session, error)

    def _abandon(self, session: _Session, error: BaseException) -> None:
        """Marks `session` lost; closes its connection without ending the transaction, so the server drops the locks."""
        session.lost = str(error).splitlines()[0] if str(error) else type(error).__name__
        session.conn.invalidate()
        session.conn.close()

    def _unlock(self, session: _Session, org: str, sobject: str) -> None:
        with self._mutex:
            if session.lost is not None:
                return
            try:
                session.conn.execute(
                    text(f"select pg_advisory_unlock({_KEY})"), {"key": mapping_lock_key(org, sobject)}
                )
            except SQLAlchemyError as error:
                self._abandon(session, error)

    def close(self) -> None:
        """Releases every lock and ends the session's transaction; a no-op when nothing was acquired."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        with self._mutex:
            session, self._session = self._session, None
            if session is None or session.lost is not None:
                return
            try:
                session.conn.execute(text("select pg_advisory_unlock_all()"))
                session.conn.rollback()
            except SQLAlchemyError as error:
                self._abandon(session, error)
                return
            session.conn.close()


def find_lock_holder(conn: Connection, org: str, sobject: str) -> LockHolder | None:
    """Who holds the lock of mapping (`org`, `sobject`) now; None when nobody does or the holder is not visible.

    An int8 advisory key appears in pg_locks as classid (high 32 bits), objid (low 32 bits), objsubid 1.
    """
    row = conn.execute(
        text(
            f"with key as (select {_KEY} as k) "
            "select a.application_name, a.xact_start from key, pg_locks l join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.objsubid = 1 "
            "and l.database = (select oid from pg_database where datname = current_database()) "
            "and l.classid = ((key.k >> 32) & 4294967295)::oid and l.objid = (key.k & 4294967295)::oid"
        ),
        {"key": mapping_lock_key(org, sobject)},
    ).first()
    return LockHolder(row.application_name or "unknown", row.xact_start) if row else None
