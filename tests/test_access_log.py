"""`orgfeed access-log`: who read what through which feed, filtered by feed and time; and the worker's retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.odata import FeedError
from app.odata.commands import parse_since
from app.warehouse.audit import prune_access_log
from tests.support.cli import run

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def logged(engine, database_url, tmp_path):
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into orgfeed.access_log (at, feed, username, client, method, path, entity_set, rows, status, "
                "duration_ms) select timestamptz '2026-12-01 09:00:00+00' + n * interval '1 minute', "
                "case when n % 2 = 0 then 'emea' else 'global' end, 'reader-' || n, '10.0.0.' || n, 'GET', "
                "'/odata/v4/x/people?$top=' || n, 'people', n, case when n = 3 then 401 else 200 end, n * 10 "
                "from generate_series(1, 6) as n"
            )
        )
    config = tmp_path / "orgfeed.toml"
    config.write_text("")
    return {"DATABASE_URL": database_url, "ORGFEED_CONFIG": str(config)}


def test_entries_of_one_feed_since_a_time_newest_first_as_json(logged):
    result = run(["access-log", "--feed", "global", "--since", "2026-12-01T09:02:00Z", "--json"], **logged)
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {
            "at": f"2026-12-01T09:0{n}:00+00:00",
            "feed": "global",
            "username": f"reader-{n}",
            "client": f"10.0.0.{n}",
            "method": "GET",
            "path": f"/odata/v4/x/people?$top={n}",
            "entity_set": "people",
            "rows": n,
            "status": 401 if n == 3 else 200,
            "duration_ms": n * 10,
        }
        for n in (5, 3)
    ]


def test_the_table_shows_every_feed_and_the_limit_applies(logged):
    result = run(["access-log", "--limit", "2"], **logged)
    assert result.exit_code == 0, result.output
    assert "reader-6" in result.stdout and "reader-5" in result.stdout and "reader-4" not in result.stdout


def test_a_bad_since_is_one_clear_line(logged):
    result = run(["access-log", "--since", "yesterday"], **logged)
    assert (result.exit_code, result.stderr) == (
        1,
        "error: --since 'yesterday': give an ISO 8601 time (2026-12-01 or 2026-12-01T09:30:00+01:00) or 30m, 24h, 7d\n",
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
        ("2026-11-30T08:00:00+01:00", datetime(2026, 11, 30, 7, 0, tzinfo=UTC)),
    ],
)
def test_since_takes_relative_and_iso_times(given, expected):
    assert parse_since(given, NOW) == expected


def test_since_refuses_other_text():
    with pytest.raises(FeedError):
        parse_since("5 weeks", NOW)


def test_retention_deletes_only_what_is_older_than_it(engine, logged):
    with engine.begin() as conn:
        conn.execute(text("update orgfeed.access_log set at = now() - interval '91 days' where rows <= 2"))
        assert prune_access_log(conn, timedelta(days=90)) == 2
        assert conn.execute(text("select count(*) from orgfeed.access_log")).scalar() == 4
