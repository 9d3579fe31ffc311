"""Fixtures of the reliability suite; the helpers they use are in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clusters import Pooler, pgbouncer


@pytest.fixture(scope="session")
def pooler(server_url: str) -> Iterator[Pooler]:
    """PgBouncer in transaction mode in front of the test server, for the whole session."""
    with pgbouncer(server_url) as running:
        yield running
