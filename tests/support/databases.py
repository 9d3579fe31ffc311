"""Throw-away PostgreSQL databases on the test server, and the data directory of an embedded one."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def embedded_data_dir() -> Path:
    """A data directory for an embedded server outside pytest's tmp tree.

    As root the server runs as another user, so its data directory's parents are opened up for
    it; every new pytest session resets /tmp/pytest-of-<user> to 0700, which would cut a running
    server off from its data.
    """
    return Path(tempfile.mkdtemp(prefix="orgfeed-embedded-")) / "data"


def database_url_for(server_url: str, name: str) -> str:
    """`server_url` pointing at the database `name` on the same server."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Creates database `name` (a copy of `template` when given) and returns its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        statement = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template))
        conn.execute(statement)
    return database_url_for(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def unique_name(prefix: str) -> str:
    """`prefix` and ten random hex digits: a database, feed or role name no other test run uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
