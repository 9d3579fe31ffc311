"""The read transaction of one request: READ ONLY, as the feed's role, UTC, and inside the request's time budget.

Each statement gets `statement_timeout` = what is left of REQUEST_BUDGET, so no request
outlives Heroku's 30 s router limit however many statements it runs.
"""

from __future__ import annotations

import time
from typing import cast

import psycopg
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from app.odata import ODataError

REQUEST_BUDGET_SECONDS = 25.0
MIN_STATEMENT_MS = 50


class QueryTimeout(ODataError):
    status = 503
    code = "QueryTimeout"


class ReadSession:
    """A pooled psycopg connection in a read-only transaction; `close()` ends it and returns the connection."""

    def __init__(self, engine: Engine, role: str | None, *, started: float, budget: float = REQUEST_BUDGET_SECONDS):
        self.deadline = started + budget
        self._fairy: PoolProxiedConnection | None = engine.raw_connection()
        # SQLAlchemy types the driver's connection Any (it may be any driver's); here it is psycopg's.
        self.conn = cast(psycopg.Connection, self._fairy.driver_connection)
        try:
            preamble = [
                sql.SQL("set transaction read only"),
                sql.SQL("set local timezone = 'UTC'"),
                sql.SQL("set local statement_timeout = {}").format(sql.Literal(self._remaining_ms())),
            ]
            if role:
                preamble.append(sql.SQL("set local role {}").format(sql.Identifier(role)))
            self.conn.execute(sql.SQL("; ").join(preamble))
            self._fresh = True  # the preamble just set the timeout: the first cursor needs no second SET
        except BaseException:
            self.close()
            raise

    def _remaining_ms(self) -> int:
        remaining = int((self.deadline - time.monotonic()) * 1000)
        if remaining < MIN_STATEMENT_MS:
            raise QueryTimeout(f"the request used its {REQUEST_BUDGET_SECONDS:.0f} s budget; narrow the query")
        return remaining

    def cursor(self) -> psycopg.Cursor:
        """A cursor whose next statement may run for what is left of the budget."""
        if self._fresh:
            self._fresh = False
            return self.conn.cursor()
        self.conn.execute(sql.SQL("set local statement_timeout = {}").format(sql.Literal(self._remaining_ms())))
        return self.conn.cursor()

    def close(self) -> None:
        if self._fairy is None:
            return
        fairy, self._fairy = self._fairy, None
        try:
            if not self.conn.closed:
                self.conn.rollback()
        except psycopg.Error:
            fairy.invalidate()
        finally:
            fairy.close()
