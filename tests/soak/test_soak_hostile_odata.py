"""Hostile OData input at full size: 10,000 generated requests through gunicorn."""

from __future__ import annotations

import pytest

from tests.support.sites import SENTINEL_NOTE, sentinel_rows

from ..reliability.test_hostile_odata import (  # noqa: F401  (fixtures used by the test)
    check_hostile_request,
    hostile_test,
    session,
    site,
)

test_ten_thousand_generated_hostile_requests_never_get_a_5xx_or_leak = pytest.mark.timeout(3600)(hostile_test(10_000))


def test_the_sentinel_is_untouched_after_ten_thousand_requests(site):  # noqa: F811 (the imported fixture)
    assert sentinel_rows(site.database_url) == [(1, SENTINEL_NOTE)]
