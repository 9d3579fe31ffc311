"""Load at full size: 32 clients for 60 s through gunicorn while full reloads and view re-applies run."""

from __future__ import annotations

import pytest

from ..reliability.test_load import CLIENTS, run_load

SOAK_ROWS = {"Employee": 20000, "EmployeeCrisisAssessment": 15000, "Account": 3000, "Contact": 10000}


@pytest.mark.timeout(1200)
def test_32_clients_for_60_seconds_see_whole_views_while_tables_and_views_are_replaced(engine, database_url, tmp_path):
    result = run_load(engine, database_url, tmp_path, seconds=60, rows=SOAK_ROWS)
    print(f"\n{result.requests} requests by {CLIENTS} clients; writer runs {dict(result.writer_runs)}")
    assert result.writer_failures == []
    assert result.errors == [], (len(result.errors), result.errors[:10])
    assert result.writer_runs["sync --full"] >= 2 and result.writer_runs["views apply"] >= 2, result.writer_runs
