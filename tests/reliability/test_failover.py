"""Failover: the primary fails, its streaming replica is promoted, and the feed keeps answering from it.

Two throw-away clusters (tests/reliability/servers.py): a primary and a standby cloned by
`pg_basebackup -R`. gunicorn reads the views from the standby (ODATA_DATABASE_URL) and the feeds'
credentials through DATABASE_URL, a libpq multi-host URL listing both servers with
`target_session_attrs=read-write`, as a self-hosted deployment that fails over would set it. While 12
clients read the feed, the primary is stopped (`-m immediate`, a crash) and, a second later, the
standby promoted (`pg_ctl promote`). The feed's errors are bounded to the switch: every answer is a
200 with the view's exact count, or a 503 with Retry-After and an OData body between the crash and
the end of the promotion; afterwards the loader writes to the promoted server through the same URL
and the feed shows the new rows, without a restart of gunicorn.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import requests

from app.odata.feeds import create_feed
from app.warehouse.database import create_database_engine
from app.warehouse.migrate import upgrade_database
from tests.support.clusters import BIN, Cluster, primary_and_standby
from tests.support.configs import write_full_config
from tests.support.emulators import start_emulator
from tests.support.parity import assert_every_object_in_parity
from tests.support.processes import run_orgfeed, summary_of
from tests.support.servers import web_server

from .test_database_restart import FeedAnswers, feed_clients, wait_until

pytestmark = pytest.mark.skipif(
    not (BIN / "pg_basebackup").exists(),
    reason=f"needs the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) in {BIN}",
)

ROWS = {"Employee": 400, "EmployeeCrisisAssessment": 200, "Account": 100, "Contact": 400}


def multi_host_url(first: Cluster, second: Cluster, attrs: str) -> str:
    """A libpq URL trying `first` then `second`, keeping the first that matches target_session_attrs=`attrs`."""
    return (
        f"postgresql://postgres@/orgfeed?host=127.0.0.1,127.0.0.1&port={first.port},{second.port}"
        f"&target_session_attrs={attrs}"
    )


def view_count(url: str, view: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select count(*) from public.{view}").fetchone()[0]


@pytest.mark.slow
def test_a_promoted_replica_keeps_the_feed_answering_with_errors_only_during_the_switch(tmp_path):
    fail_over_under_the_feed(tmp_path, rows=ROWS, clients=12)


def fail_over_under_the_feed(tmp_path: Path, *, rows: dict[str, int], clients: int) -> None:
    """Crashes the primary and promotes its standby while `clients` read the feed; prints and checks the figures."""
    with primary_and_standby() as (primary, standby):
        with psycopg.connect(f"{primary.url}/postgres", autocommit=True) as conn:
            conn.execute("create database orgfeed")
        writer = multi_host_url(primary, standby, "read-write")
        replica = f"{standby.url}/orgfeed"
        upgrade_database(writer)
        emu = start_emulator(rows, seed=71)
        engine = create_database_engine(writer, pool_size=2)
        try:
            config, env = write_full_config(emu, tmp_path, writer, bulk_threshold=1000)
            first = run_orgfeed(env, "sync", "--json")
            assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
            created = create_feed(engine, "failover", ["global_assessment", "global_contact"], base_url="http://x")
            assert created.credential is not None
            auth = (created.credential.username, created.credential.password)
            totals = {
                view: view_count(f"{primary.url}/orgfeed", view) for view in ("global_assessment", "global_contact")
            }
            wait_until(
                lambda: all(view_count(replica, view) == total for view, total in totals.items()),
                60,
                "the standby never caught up",
            )

            seen = FeedAnswers()
            with web_server(writer, config, odata_database_url=replica, workers=2) as server:
                url = server.url
                with feed_clients(f"{url}/odata/v4/failover/", auth, seen, counts=totals, clients=clients):
                    wait_until(lambda: seen.count("200") >= 50, 60, "the feed did not answer before the failover")
                    with psycopg.connect(replica) as conn:  # the views really are read on the standby
                        assert (
                            conn.execute(
                                "select count(*) from pg_stat_activity where application_name = 'orgfeed-odata'"
                            ).fetchone()[0]
                            >= 1
                        )
                    crashed = time.monotonic()
                    primary.stop("immediate")
                    time.sleep(1)  # the time a failover manager takes to notice
                    standby.promote()
                    promoted = time.monotonic()
                    with psycopg.connect(replica) as conn:
                        assert conn.execute("select pg_is_in_recovery()").fetchone() == (False,)
                    wait_until(lambda: seen.count("200", after=promoted) >= 100, 60, "the feed did not recover")

                emu.insert("amer", "Contact", [{"LastName": f"After failover {n}"} for n in range(25)])
                emu.advance_clock(60)
                after = run_orgfeed(env, "sync", "--json")  # DATABASE_URL now finds the promoted server
                assert after.returncode == 0, after.stdout[-2000:] + after.stderr[-2000:]
                assert {o["status"] for o in summary_of(after)["objects"]} == {"succeeded"}
                reader = requests.Session()
                reader.auth = auth
                response = reader.get(f"{url}/odata/v4/failover/global_contact/$count", timeout=30)
                assert (response.status_code, response.json()) == (200, totals["global_contact"] + 25)
            promoted_engine = create_database_engine(replica, pool_size=1)
            try:
                assert_every_object_in_parity(emu, promoted_engine)  # the promoted server holds every row
            finally:
                promoted_engine.dispose()
        finally:
            engine.dispose()
            emu.stop()

    errors = [(at, status) for at, status, _ in seen.answers if status != "200"]
    window = (max(at for at, _ in errors) - min(at for at, _ in errors)) if errors else 0.0
    recovered = min(at for at, status, _ in seen.answers if status == "200" and at >= promoted) - promoted
    print(
        f"\nfailover: {clients} clients, {len(seen.answers)} answers, {len(errors)} errors (all 503 with "
        f"Retry-After) over {window:.2f} s; the switch (crash to promoted) took {promoted - crashed:.2f} s; "
        f"first 200 after the promotion {recovered:.2f} s"
    )
    assert seen.problems == [], (len(seen.problems), seen.problems[:10])
    assert {status for _, status in errors} <= {"503"}
    assert all(crashed - 1 <= at <= promoted + 5 for at, _ in errors), "errors outside the switch"
