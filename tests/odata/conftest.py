"""Fixtures for the feed: a database with views of known rows, feeds on them, and Flask clients.

`odata_database_url` is one migrated database per test session holding the views `people`
and `big` of tests/support/feeds.py.
Feeds get unique names because their read roles are cluster-wide; they are deleted (roles
included) at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from app.odata.app import create_app
from app.odata.credentials import ThrottlePolicy
from app.odata.feeds import Credential, create_feed, delete_feed
from app.warehouse.database import create_database_engine
from tests.support.databases import create_database, drop_database, unique_name
from tests.support.feeds import BIG_SQL, PEOPLE_SQL, FeedClient, settings_for


@pytest.fixture(scope="session")
def odata_database_url(server_url: str, migrated_template: str) -> Iterator[str]:
    """A migrated database of this session's own with the views `people` and `big` in schema public."""
    name = unique_name("orgfeed_odata")
    url = create_database(server_url, name, template=migrated_template)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PEOPLE_SQL)
        conn.execute(BIG_SQL)
    yield url
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def engine(odata_database_url: str):
    engine = create_database_engine(odata_database_url, pool_size=10)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def feed_factory(engine):
    """make(views) -> Credential of a new feed with a unique name; every feed is deleted at the end."""
    created: list[str] = []

    def make(views: list[str], prefix: str = "t") -> Credential:
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        created.append(name)
        result = create_feed(engine, name, views, base_url="http://localhost")
        assert result.credential is not None
        return result.credential

    yield make
    for name in created:
        delete_feed(engine, name)


@pytest.fixture(scope="session")
def feed(feed_factory) -> Credential:
    """A feed exposing `people` and `big`."""
    return feed_factory(["people", "big"])


@pytest.fixture(scope="session")
def flask_app(odata_database_url: str, engine):
    return create_app(
        settings_for(odata_database_url),
        engine=engine,
        throttle_policy=ThrottlePolicy(free_failures=3, base_delay=0.05, max_delay=0.2),
    )


@pytest.fixture(scope="session")
def client(flask_app, feed) -> FeedClient:
    return FeedClient(flask_app, feed)
