"""The feed served from a real streaming replica (ODATA_DATABASE_URL) while the loader writes to the primary.

The test makes its own pair of throw-away PostgreSQL clusters on 127.0.0.1 (tests/support/clusters.py;
the machine's cluster is never touched): a primary from initdb with wal_level=replica, and a standby
cloned from it by `pg_basebackup -R`. Both are stopped, and their directories removed, whatever happens.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import requests
from sqlalchemy import text

from app.odata.feeds import create_feed
from app.warehouse.database import create_database_engine
from app.warehouse.migrate import upgrade_database
from tests.support.clusters import BIN, primary_and_standby
from tests.support.configs import write_full_config
from tests.support.emulators import start_emulator
from tests.support.processes import run_orgfeed
from tests.support.servers import web_server

pytestmark = pytest.mark.skipif(
    not (BIN / "pg_basebackup").exists(),
    reason=f"needs the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) in {BIN}",
)


def feed_count(session: requests.Session, root: str, view: str, filter_: str = "") -> int:
    response = session.get(f"{root}{view}/$count" + (f"?$filter={filter_}" if filter_ else ""), timeout=30)
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.mark.slow
def test_the_feed_reads_a_streaming_replica_keeps_answering_while_the_primary_loads_and_catches_up(tmp_path):
    with primary_and_standby() as (primary_cluster, standby_cluster):
        primary_server, standby_server = primary_cluster.url, standby_cluster.url
        with psycopg.connect(f"{primary_server}/postgres", autocommit=True) as conn:
            conn.execute("create database orgfeed")
        primary, standby = f"{primary_server}/orgfeed", f"{standby_server}/orgfeed"
        upgrade_database(primary)
        engine = create_database_engine(primary, pool_size=2)
        emu = start_emulator(
            {"Employee": 2000, "EmployeeCrisisAssessment": 1500, "Account": 300, "Contact": 1200}, seed=41
        )
        try:
            config, env = write_full_config(emu, tmp_path, primary, bulk_threshold=1000)
            first = run_orgfeed(env, "sync", "--json")
            assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
            credential = create_feed(engine, "replica", ["global_contact"], base_url="http://localhost").credential
            with engine.connect() as conn:
                total = conn.execute(text("select count(*) from public.global_contact")).scalar()
            with psycopg.connect(standby) as conn:
                assert conn.execute("select pg_is_in_recovery()").fetchone() == (True,)
            with psycopg.connect(f"{primary_server}/postgres") as conn:
                assert conn.execute("select state from pg_stat_replication").fetchall() == [("streaming",)]

            with web_server(primary, config, odata_database_url=standby, workers=1) as server:
                session = requests.Session()
                session.auth = (credential.username, credential.password)
                root = f"{server.url}/odata/v4/replica/"
                deadline = time.monotonic() + 30
                while feed_count(session, root, "global_contact") != total:  # the standby replays the first load
                    assert time.monotonic() < deadline, "the standby never caught up with the first load"
                    time.sleep(0.2)
                with psycopg.connect(standby) as conn:  # the feed's reads really are on the standby
                    assert (
                        conn.execute(
                            "select count(*) from pg_stat_activity where application_name = 'orgfeed-odata'"
                        ).fetchone()[0]
                        >= 1
                    )

                ids = emu.ids("emea", "Contact")[:200]
                emu.update("emea", "Contact", [{"Id": record_id, "LastName": "Replicated"} for record_id in ids])
                emu.insert("amer", "Contact", [{"LastName": f"Replicated new {n}"} for n in range(50)])
                emu.advance_clock(60)
                answers, failures, stop = [], [], threading.Event()

                def read_while_loading() -> None:
                    reader = requests.Session()
                    reader.auth = session.auth
                    while not stop.is_set():
                        try:
                            answers.append(feed_count(reader, root, "global_contact"))
                        except (AssertionError, requests.RequestException) as error:
                            failures.append(str(error))

                reader = threading.Thread(target=read_while_loading)
                reader.start()
                full = run_orgfeed(env, "sync", "--json", "--full")  # a full reload: every table swapped on the primary
                incremental = run_orgfeed(env, "sync", "--json")
                stop.set()
                reader.join(timeout=60)
                assert (full.returncode, incremental.returncode) == (0, 0), (
                    full.stderr[-2000:] + incremental.stderr[-2000:]
                )
                assert failures == [] and len(answers) >= 5, (failures[:5], len(answers))
                assert set(answers) <= {total, total + 50}, sorted(set(answers))  # whole views only, old or new

                deadline = time.monotonic() + 30
                while (
                    feed_count(session, root, "global_contact"),
                    feed_count(session, root, "global_contact", "lastname eq 'Replicated'"),
                ) != (total + 50, 200):
                    assert time.monotonic() < deadline, "the feed never caught up with the primary"
                    time.sleep(0.2)
        finally:
            emu.stop()
            engine.dispose()
