"""Database URLs and engines: which server to use, how to reach it, and a clear line when it cannot be reached."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg
import sqlalchemy
import sqlalchemy.exc
from sqlalchemy.engine import Engine, make_url

from app.config import DatabaseSettings
from app.warehouse import DatabaseUnreachable
from app.warehouse.embedded import start_embedded_server


def resolve_database_url(database: DatabaseSettings) -> str:
    """The libpq URL to use: DATABASE_URL when set, else the embedded server's (started if needed)."""
    if database.url:
        return database.url
    return start_embedded_server(database.data_dir)


def mask_url(url: str) -> str:
    """`url` with its password replaced by ***, safe to print or log."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    userinfo = f"{parts.username}:***" if parts.username else ":***"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


def sqlalchemy_url(url: str) -> sqlalchemy.URL:
    """A libpq postgresql:// URL as SQLAlchemy's URL for the psycopg 3 driver."""
    return make_url(url).set(drivername="postgresql+psycopg")


def create_database_engine(
    url: str, *, application_name: str = "orgfeed", pool_size: int = 5, pre_ping: bool = True
) -> Engine:
    """An engine on `url` with psycopg 3; connections carry `application_name` for pg_stat_activity.

    Any URL may be PgBouncer in transaction mode (Heroku's connection pooling), where consecutive
    transactions of one connection run on different server connections. So psycopg never prepares
    statements on the server (`prepare_threshold=None`: a statement prepared on one server
    connection "does not exist" on the next), and nothing here keeps session state. `pre_ping=False`
    drops the round trip that checks each connection at checkout (the feed pings only connections
    that sat idle: app.odata.session.ping_when_idle).
    """
    return sqlalchemy.create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        pool_pre_ping=pre_ping,
        connect_args={"application_name": application_name, "prepare_threshold": None},
    )


# SQLSTATE classes of a server going away or not accepting connections yet: 08 connection exception,
# 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up or shutting down).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def database_unavailable(error: BaseException) -> bool:
    """True when `error` (psycopg's or SQLAlchemy's) means the server is down, restarting or unreachable.

    Such errors are worth waiting out and retrying; any other database error is a real failure.
    """
    cause: BaseException | None = error
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated:
            return True
        cause = error.orig
    if not isinstance(cause, psycopg.OperationalError):
        return False
    sqlstate = cause.sqlstate or ""
    return not sqlstate or sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def check_database(url: str, *, timeout_seconds: int = 10) -> None:
    """Connects once to `url`; raises DatabaseUnreachable with the masked URL and the reason."""
    try:
        with psycopg.connect(url, connect_timeout=timeout_seconds) as conn:
            conn.execute("select 1")
    except psycopg.Error as error:
        raise DatabaseUnreachable(
            f"database {mask_url(url)} is unreachable: {describe_connection_error(error)}"
        ) from error


def describe_connection_error(error: Exception) -> str:
    """The useful part of a driver error on one line (libpq's messages span several)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = lines[0]
    if text.startswith("connection failed: "):
        text = text[len("connection failed: ") :]
    hints = [line for line in lines[1:] if line.startswith("Is the server")]
    return f"{text} ({hints[0]})" if hints else text
