"""Database faults at full size: the pipeline behind PgBouncer, repeated PostgreSQL restarts, a failover.

The same checks as tests/reliability/test_pooler.py, test_database_restart.py and test_failover.py, on
larger orgs, for longer and with more clients. Each prints the figures the README's reliability table
quotes.
"""

from __future__ import annotations

import pytest

from tests.support.clusters import pgbouncer

from ..reliability.test_database_restart import print_figures, restarts_lose_nothing
from ..reliability.test_failover import fail_over_under_the_feed
from ..reliability.test_pooler import run_the_pipeline_through

SOAK_ROWS = {"Employee": 20000, "EmployeeCrisisAssessment": 10000, "Account": 3000, "Contact": 15000}  # x 2 = 96,000


@pytest.mark.timeout(3600)
def test_the_pipeline_through_pgbouncer_on_96k_rows_with_60_s_of_feed_load(server_url, fresh_database_url, tmp_path):
    with pgbouncer(server_url) as pooler:
        run_the_pipeline_through(pooler, fresh_database_url, tmp_path, rows=SOAK_ROWS, feed_seconds=60)


@pytest.mark.timeout(3600)
def test_three_database_restarts_under_load_on_96k_rows_lose_nothing(tmp_path):
    print_figures(restarts_lose_nothing(tmp_path, SOAK_ROWS, restarts=3))


@pytest.mark.timeout(3600)
def test_a_failover_under_32_feed_clients_on_96k_rows(tmp_path):
    fail_over_under_the_feed(tmp_path, rows=SOAK_ROWS, clients=32)
