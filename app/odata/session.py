"""The read transaction of one request: READ ONLY, as the feed's role, UTC, and inside the request's time budget.

One pooled connection and one transaction serve the whole request, authentication included when the feed
reads the database that holds the credentials. Each statement goes out in a psycopg pipeline behind one
`select set_config(...)` of its settings (local to the transaction), so it costs one round trip:
authenticating, then reading (with the end of the transaction), two round trips a request. Rows are
fetched whole, so the connection is back in the pool before the response body is written.

Each statement gets `statement_timeout` = what is left of REQUEST_BUDGET, so no request outlives
Heroku's 30 s router limit however many statements it runs. Connections are not pinged at every
checkout: only after sitting idle (`ping_when_idle`), and a connection found broken at its first
statement, before anything was read, is replaced and the statement sent again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from app.odata import ODataError
from app.odata.payload import register_loaders

REQUEST_BUDGET_SECONDS = 25.0
MIN_STATEMENT_MS = 50
IDLE_PING_SECONDS = 30.0  # a pooled connection unused for longer is pinged before it serves a request

Params = Sequence[Any] | Mapping[str, Any] | None


class QueryTimeout(ODataError):
    status = 503
    code = "QueryTimeout"


class ReadSession:
    """A pooled psycopg connection in a read-only transaction; `close()` ends it and returns the connection."""

    def __init__(
        self, engine: Engine, role: str | None = None, *, started: float, budget: float = REQUEST_BUDGET_SECONDS
    ):
        self.engine = engine
        self.deadline = started + budget
        self.role = role
        self._fairy: PoolProxiedConnection | None = engine.raw_connection()
        self.conn = driver_connection(self._fairy)
        # The session sends BEGIN and ROLLBACK itself, inside its pipelines: psycopg's own transaction
        # handling would send each in a round trip of its own. Restored before the pool has it back.
        self.conn.autocommit = True
        self._configured = False  # the transaction was begun and its timezone (and role) settings sent
        self._role_sent = False
        self._read = False  # a statement ran on this connection: no silent retry after that

    def use_role(self, role: str | None) -> None:
        """Reads as `role` (the feed's read role; None: the connecting user) from the next statement on."""
        self.role = role
        self._role_sent = False

    def fetch(self, sql: str, params: Params = None, *, ieee754: bool | None = None, last: bool = False) -> list:
        """The rows of one statement, sent with its settings in one round trip.

        `ieee754` (True or False) loads values in their OData JSON shape (payload.register_loaders);
        `last` ends the transaction in the same round trip (a later fetch starts a new one).
        """
        try:
            return self._fetch(sql, params, ieee754, last)
        except psycopg.OperationalError:
            if self._read or not self.conn.broken:
                raise
            # The server dropped this connection while it sat in the pool (a restart, an idle timeout):
            # nothing has been read, so the statement goes again on a fresh connection.
            fairy, self._fairy = self._fairy, None
            if fairy is not None:
                fairy.invalidate()
                fairy.close()
            self._fairy = self.engine.raw_connection()
            self.conn = driver_connection(self._fairy)
            self.conn.autocommit = True
            self._configured = self._role_sent = False
            return self._fetch(sql, params, ieee754, last)

    def _fetch(self, sql: str, params: Params, ieee754: bool | None, last: bool) -> list:
        begin = not self._configured
        settings, values = self._settings()
        with self.conn.cursor() as cursor:
            if ieee754 is not None:
                register_loaders(cursor, ieee754=ieee754)
            with self.conn.pipeline():
                if begin:
                    self.conn.execute("begin read only")
                self.conn.execute(settings, values)
                cursor.execute(sql, params)
                if last:
                    self.conn.execute("rollback")
            self._read = True
            if last:
                self._configured = self._role_sent = False
            return cursor.fetchall()

    def cursor(self) -> psycopg.Cursor:
        """A cursor whose next statement runs in the session's transaction, within what is left of the budget."""
        begin = not self._configured
        settings, values = self._settings()
        with self.conn.pipeline():
            if begin:
                self.conn.execute("begin read only")
            self.conn.execute(settings, values)
        self._read = True
        return self.conn.cursor()

    def _settings(self) -> tuple[str, list[str]]:
        """`select set_config(...)` of the statement's timeout and, once per transaction, UTC and the role:
        SET LOCAL, in a statement that can share the pipeline with the query."""
        remaining = int((self.deadline - time.monotonic()) * 1000)
        if remaining < MIN_STATEMENT_MS:
            raise QueryTimeout(f"the request used its {REQUEST_BUDGET_SECONDS:.0f} s budget; narrow the query")
        calls, values = ["set_config('statement_timeout', %s, true)"], [str(remaining)]
        if not self._configured:
            calls.append("set_config('timezone', 'UTC', true)")
            self._configured = True
        if self.role and not self._role_sent:
            calls.append("set_config('role', %s, true)")
            values.append(self.role)
            self._role_sent = True
        return "select " + ", ".join(calls), values

    def close(self) -> None:
        """Ends the transaction if one is open (a round trip only then) and returns the connection."""
        if self._fairy is None:
            return
        fairy, self._fairy = self._fairy, None
        try:
            if not self.conn.closed:
                if self.conn.info.transaction_status != TransactionStatus.IDLE:
                    self.conn.execute("rollback")
                self.conn.autocommit = False
        except psycopg.Error:
            fairy.invalidate()
        finally:
            fairy.close()


def driver_connection(fairy: PoolProxiedConnection) -> psycopg.Connection:
    """The psycopg connection inside a pooled one (checked out, so never None)."""
    conn = fairy.driver_connection
    assert conn is not None
    return conn


def ping_when_idle(engine: Engine, seconds: float = IDLE_PING_SECONDS) -> Engine:
    """Makes `engine`'s pool ping a connection at checkout only when it sat unused for more than `seconds`,
    replacing it when the ping fails; a busy feed reuses connections a moment after returning them."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def remember_use(dbapi_connection: psycopg.Connection, record: ConnectionPoolEntry) -> None:
        record.info["orgfeed.used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_idle(
        dbapi_connection: psycopg.Connection, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        if time.monotonic() - record.info.get("orgfeed.used", 0.0) <= seconds:
            return
        autocommit = dbapi_connection.autocommit
        try:
            dbapi_connection.autocommit = True  # one round trip: no BEGIN, no ROLLBACK
            dbapi_connection.execute("select 1")
        except psycopg.OperationalError as error:
            raise DisconnectionError(str(error)) from error  # the pool connects anew and tries again
        finally:
            if not dbapi_connection.closed:
                dbapi_connection.autocommit = autocommit

    return engine
