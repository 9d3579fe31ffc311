"""Fixtures giving tests a real PostgreSQL: $TEST_DATABASE_URL's server, else an embedded one.

Isolation: `fresh_database_url` and `database_url` give each test its own database (empty, or
migrated to head — cloned from a template, so it is cheap); `conn` runs a test inside a
transaction on a shared migrated database and rolls it back.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection

from app.emulator.demo.orgs import demo_orgs
from app.emulator.emulator import Emulator
from app.warehouse.database import create_database_engine
from app.warehouse.embedded import start_embedded_server, stop_embedded_server
from app.warehouse.migrate import upgrade_database
from tests.support.databases import create_database, database_url_for, drop_database, embedded_data_dir, unique_name
from tests.support.servers import free_port


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin URL on a server where tests may create and drop databases."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    data_dir = embedded_data_dir()
    orgfeed_url = start_embedded_server(data_dir)
    yield database_url_for(orgfeed_url, "postgres")
    stop_embedded_server(data_dir)
    shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_template(server_url: str) -> Iterator[str]:
    """The name of a database migrated to head, used only as a template (nothing stays connected to it)."""
    name = unique_name("orgfeed_template")
    url = create_database(server_url, name)
    upgrade_database(url)
    yield name
    drop_database(server_url, name)


@pytest.fixture
def fresh_database_url(server_url: str) -> Iterator[str]:
    """An empty database of the test's own, dropped afterwards."""
    name = unique_name("orgfeed_test")
    yield create_database(server_url, name)
    drop_database(server_url, name)


@pytest.fixture
def database_url(server_url: str, migrated_template: str) -> Iterator[str]:
    """A database of the test's own with the orgfeed schema at head, dropped afterwards."""
    name = unique_name("orgfeed_test")
    yield create_database(server_url, name, template=migrated_template)
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def shared_database_url(server_url: str, migrated_template: str) -> Iterator[str]:
    name = unique_name("orgfeed_shared")
    yield create_database(server_url, name, template=migrated_template)
    drop_database(server_url, name)


@pytest.fixture
def conn(shared_database_url: str) -> Iterator[Connection]:
    """A connection to a migrated database inside a transaction that is rolled back after the test."""
    engine = create_database_engine(shared_database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield connection
            finally:
                transaction.rollback()
    finally:
        engine.dispose()


@pytest.fixture
def unused_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    return free_port()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """The emulator's two demo orgs (40 records per object), served over HTTPS on a free port."""
    emu = Emulator(demo_orgs(rows=40, seed=11)).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def engine(database_url: str):
    """An engine on the test's own migrated database."""
    engine = create_database_engine(database_url, pool_size=10)
    yield engine
    engine.dispose()
