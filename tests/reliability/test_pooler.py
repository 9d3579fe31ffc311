"""Every URL on PgBouncer in transaction mode (Heroku's connection pooling): the whole pipeline works.

PgBouncer runs from Debian's package, started by the `pooler` fixture on a free port of 127.0.0.1 in
front of the test server (tests/reliability/servers.py). In transaction mode each transaction of a
client may run on another server connection, so session state (session advisory locks, SET, server-side
prepared statements, temp tables left behind) leaks or vanishes between transactions. Each test
here proves one thing orgfeed needs a session for works through the pooler:

- migrations: `orgfeed db upgrade` takes its lock inside its one transaction (two at once, then again);
- sync (full, incremental, killed): COPY and staging tables inside transactions, mapping locks in
  one open transaction per run (none left behind, even after SIGKILL), no object skipped;
- views apply, `feeds create`, the feed under 32 clients, the dashboard, the access log's batched
  inserts (no server-side prepared statements: none lost);
- the feed's read role and settings (`SET LOCAL`) end with the request's transaction.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import text

from app.config import DatabaseSettings, Settings
from app.odata.accesslog import AccessLog
from app.odata.app import create_app
from app.odata.feeds import create_feed, delete_feed
from app.warehouse.database import create_database_engine
from app.warehouse.locks import LockSession
from tests.support.clusters import PGBOUNCER, Pooler, pgbouncer
from tests.support.configs import OBJECTS, write_full_config
from tests.support.databases import create_database, drop_database, unique_name
from tests.support.emulators import start_emulator
from tests.support.parity import assert_committed_state_is_consistent, assert_every_object_in_parity, view_columns
from tests.support.processes import ORGFEED, ROOT, run_orgfeed, summary_of
from tests.support.servers import web_server

from .test_crash_safety import change_the_orgs, toggle_view_columns
from .test_load import LoadResult, read_loop

pytestmark = pytest.mark.skipif(not Path(PGBOUNCER).exists(), reason="needs PgBouncer: apt-get install -y pgbouncer")

ROWS = {"Employee": 1200, "EmployeeCrisisAssessment": 400, "Account": 150, "Contact": 1100}  # Bulk: > 1000
CLIENTS = 32
EVERY_OBJECT = sorted((org, sobject) for org in ("amer", "emea") for sobject in OBJECTS)


def advisory_locks(direct_url: str) -> int:
    """Advisory locks held in `direct_url`'s database right now, by anyone."""
    with psycopg.connect(direct_url) as conn:
        return conn.execute(
            "select count(*) from pg_locks where locktype = 'advisory' "
            "and database = (select oid from pg_database where datname = current_database())"
        ).fetchone()[0]


def statuses(result: subprocess.CompletedProcess) -> dict[tuple[str, str], tuple[str, str]]:
    return {(o["org"], o["object"]): (o["mode"], o["status"]) for o in summary_of(result)["objects"]}


def assert_synced(result: subprocess.CompletedProcess, mode: str) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert statuses(result) == dict.fromkeys(EVERY_OBJECT, (mode, "succeeded")), statuses(result)


def kill_after_first_rows(env: dict[str, str], *args: str) -> None:
    """Starts `orgfeed sync --json` and SIGKILLs it as soon as it has loaded a page."""
    process = subprocess.Popen(
        [*ORGFEED, "sync", "--json", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event.get("event") == "rows" and event.get("rows"):
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL, "the sync finished before it could be killed"


@pytest.mark.slow
def test_migrations_sync_views_feed_and_dashboard_all_work_with_every_url_on_pgbouncer(
    pooler: Pooler, fresh_database_url: str, tmp_path
):
    run_the_pipeline_through(pooler, fresh_database_url, tmp_path, rows=ROWS, feed_seconds=5)


def run_the_pipeline_through(
    pooler: Pooler, fresh_database_url: str, tmp_path: Path, *, rows: dict[str, int], feed_seconds: float
) -> None:
    """Migrations, syncs (one killed), views, a feed read by 32 clients and the dashboard, all through `pooler`."""
    pooled = pooler.for_database(fresh_database_url)
    emu = start_emulator(rows, seed=53)
    engine = create_database_engine(fresh_database_url, pool_size=2)  # checks read the server directly
    feed = unique_name("pooled").replace("_", "")
    try:
        config, env = write_full_config(emu, tmp_path, pooled, bulk_threshold=1000)
        upgrades = [
            subprocess.Popen([*ORGFEED, "db", "upgrade"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
            for _ in range(2)
        ]
        assert [process.wait(timeout=120) for process in upgrades] == [0, 0]
        assert advisory_locks(fresh_database_url) == 0  # a leaked migration lock would block the next upgrade

        assert_synced(run_orgfeed(env, "sync", "--json"), "full")
        assert advisory_locks(fresh_database_url) == 0
        kill_after_first_rows(env, "--full")
        released_at, deadline = time.monotonic(), time.monotonic() + 10
        while advisory_locks(fresh_database_url):  # PgBouncer ends the dead client's server session
            assert time.monotonic() < deadline, "the killed sync's locks outlived it"
            time.sleep(0.05)
        print(f"\nlocks of a SIGKILLed sync behind PgBouncer released after {time.monotonic() - released_at:.2f} s")
        change_the_orgs(emu, random.Random(17), 1)
        # The issue: with session locks, the next incremental run skipped 6-7 of 8 objects and exited 0.
        assert_synced(run_orgfeed(env, "sync", "--json"), "incremental")
        assert advisory_locks(fresh_database_url) == 0
        assert_every_object_in_parity(emu, engine)
        assert_committed_state_is_consistent(engine)

        assert toggle_view_columns(config)
        for command in (("views", "generate"), ("views", "apply")):
            result = run_orgfeed(env, *command)
            assert result.returncode == 0, result.stdout + result.stderr
        assert "title" in view_columns(engine, "global_contact")

        created = run_orgfeed(env, "feeds", "create", feed, "--views", "global_assessment,global_contact", "--json")
        assert created.returncode == 0, created.stderr
        credential = json.loads(created.stdout)
        assert credential["role"] == f"orgfeed_feed_{feed}"
        with engine.connect() as conn:
            counts = {
                view: conn.execute(text(f"select count(*) from public.{view}")).scalar()
                for view in ("global_assessment", "global_contact")
            }
            some_ids = {
                view: conn.execute(text(f"select id from public.{view} order by id desc limit 1")).scalar()
                for view in counts
            }

        password = "pooled-admin-secret"
        result, lock, stop = LoadResult(), threading.Lock(), threading.Event()
        environment = {**os.environ, "ORGFEED_ADMIN_PASSWORD": password}
        with web_server(pooled, config, workers=2, env=environment) as server:
            url = server.url
            readers = [
                threading.Thread(
                    target=read_loop,
                    args=(
                        f"{url}/odata/v4/{feed}/",
                        (credential["user"], credential["password"]),
                        counts,
                        some_ids,
                        stop,
                        result,
                        lock,
                        number,
                    ),
                )
                for number in range(CLIENTS)
            ]
            for reader in readers:
                reader.start()
            time.sleep(feed_seconds)
            deadline = time.monotonic() + 60  # on a busy machine, wait for a few requests per client
            while result.requests < CLIENTS * 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            for reader in readers:
                reader.join(timeout=120)
            page = requests.get(url + "/", auth=("admin", password), timeout=30)
            status = requests.get(url + "/dashboard/status.json", auth=("admin", password), timeout=30)
            logged, deadline = 0, time.monotonic() + 20
            while logged < result.requests and time.monotonic() < deadline:  # written in the background, in batches
                time.sleep(0.2)
                with engine.connect() as conn:
                    logged = conn.execute(
                        text("select count(*) from orgfeed.access_log where feed = :feed"), {"feed": feed}
                    ).scalar()
        print(
            f"{result.requests} feed requests by {CLIENTS} clients in {feed_seconds:.0f} s through PgBouncer, "
            f"{len(result.errors)} errors, {logged} access-log rows"
        )
        assert result.errors == [], (len(result.errors), result.errors[:10])
        assert result.requests >= CLIENTS * 3, result.requests
        assert logged == result.requests  # every request's access-log row, none lost to a prepared statement
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert status.status_code == 200
        assert sorted((o["org"], o["sobject"], o["status"]) for o in status.json()["objects"]) == [
            (org, sobject, "synced") for org, sobject in EVERY_OBJECT
        ]
    finally:
        delete_feed(engine, feed)
        engine.dispose()
        emu.stop()


def test_an_object_held_by_another_sync_exits_75_and_says_what_to_do_and_the_watch_keeps_going(
    pooler: Pooler, emulator, database_url: str, tmp_path
):
    import os

    pooled = pooler.for_database(database_url)
    config, env = write_full_config(emulator, tmp_path, pooled, auto_apply_views=False)
    config.write_text(config.read_text().replace('fields = "*"\n', 'fields = "*"\npoll_seconds = 10\n'))
    engine = create_database_engine(pooled, pool_size=2)
    try:
        with LockSession(engine) as other_worker:
            assert other_worker.acquire("amer", "Contact") is not None
            held = run_orgfeed(env, "sync", "--json")
            watch = subprocess.Popen(
                [*ORGFEED, "sync", "--watch", "--json"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            summaries: list[dict] = []

            def read_summaries() -> None:
                assert watch.stdout is not None
                for line in watch.stdout:
                    event = json.loads(line)
                    if event.get("event") == "summary":
                        summaries.append(event)

            reader = threading.Thread(target=read_summaries)
            reader.start()
            deadline = time.monotonic() + 60
            while not summaries:
                assert time.monotonic() < deadline and watch.poll() is None, "the watch never finished a round"
                time.sleep(0.1)
        # the other worker is gone: the watch's next round (10 s later) syncs the object
        deadline = time.monotonic() + 60
        while len(summaries) < 2:
            assert time.monotonic() < deadline and watch.poll() is None, "the watch stopped after a locked object"
            time.sleep(0.2)
        watch.send_signal(signal.SIGTERM)
        watch.wait(timeout=30)
        reader.join(timeout=10)
        watch.stdout.close()
        with engine.connect() as conn:
            logged = conn.execute(
                text(
                    "select status, error_code, message from orgfeed.sync_log "
                    "where org = 'amer' and sobject = 'Contact' and error_code = 'LOCKED_BY_ANOTHER_SYNC' order by id"
                )
            ).all()
    finally:
        engine.dispose()

    assert held.returncode == 75, held.stdout[-2000:] + held.stderr[-2000:]
    assert statuses(held) == {
        **dict.fromkeys(EVERY_OBJECT, ("full", "succeeded")),
        ("amer", "Contact"): ("", "locked"),
    }
    assert summary_of(held)["ok"] is False
    first_round = {(o["org"], o["object"]): o["status"] for o in summaries[0]["objects"]}
    assert first_round[("amer", "Contact")] == "locked"
    assert {(o["org"], o["object"]): o["status"] for o in summaries[1]["objects"]} == dict.fromkeys(
        EVERY_OBJECT, "succeeded"
    )
    assert watch.returncode == 75  # a round of the watch could not sync everything
    assert len(logged) == 2 and {(status, code) for status, code, _ in logged} == {
        ("Warning", "LOCKED_BY_ANOTHER_SYNC")
    }
    message = logged[0][2]
    assert message.startswith("not synced by this run: another sync holds this object (orgfeed-sync ")
    assert f"pid {os.getpid()}, since " in message and message.endswith("run the sync again")


def test_the_feeds_role_and_settings_end_with_the_request_on_a_single_pooled_server_connection(
    server_url: str, migrated_template: str
):
    name = unique_name("orgfeed_pooled")
    direct = create_database(server_url, name, template=migrated_template)
    feed = unique_name("single").replace("_", "")
    try:
        with psycopg.connect(direct, autocommit=True) as conn:
            conn.execute(
                "create table public.things_src (id varchar(18) primary key, geo varchar(4), name varchar(20));"
                "insert into public.things_src select 't' || i, 'AMER', 'thing ' || i from generate_series(1, 30) i;"
                "create view public.things as select id, geo, name from public.things_src"
            )
        with pgbouncer(server_url, pool_size=1) as single:  # every transaction on one server connection
            pooled = single.for_database(direct)
            engine = create_database_engine(pooled, pool_size=3)
            try:
                credential = create_feed(engine, feed, ["things"], base_url="http://localhost").credential
                assert credential is not None
                settings = Settings(config_path=ROOT / "orgfeed.toml", database=DatabaseSettings(pooled, ROOT))
                client = create_app(settings, engine=engine).test_client()
                token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
                auth = {"Authorization": f"Basic {token}"}
                for _ in range(3):
                    response = client.get(f"/odata/v4/{feed}/things?$count=true&$top=5", headers=auth)
                    body = response.json
                    response.close()  # ends the request's read transaction, as the server does after sending
                    assert response.status_code == 200 and body["@odata.count"] == 30
                with psycopg.connect(pooled, prepare_threshold=None) as conn:
                    seen = conn.execute(
                        "select current_user, current_setting('statement_timeout'), "
                        "current_setting('transaction_read_only'), current_setting('TimeZone') = "
                        "(select reset_val from pg_settings where name = 'TimeZone')"
                    ).fetchone()
                    pids = {conn.execute("select pg_backend_pid()").fetchone()[0] for _ in range(3)}
                    conn.rollback()
            finally:
                delete_feed(engine, feed)
                engine.dispose()
        assert len(pids) == 1  # the app's transactions ran on this same server connection
        assert seen == ("postgres", "0", "off", True)
    finally:
        drop_database(server_url, name)


def test_access_log_batches_through_the_pooler_are_never_lost_to_prepared_statements(
    server_url: str, migrated_template: str, caplog
):
    name = unique_name("orgfeed_pooled")
    direct = create_database(server_url, name, template=migrated_template)
    try:
        with pgbouncer(server_url, pool_size=3) as small:
            engine = create_database_engine(small.for_database(direct), pool_size=4)
            stop = threading.Event()

            def other_traffic() -> None:  # keeps the pool's server connections rotating under the log's client
                with engine.connect() as conn:
                    while not stop.is_set():
                        conn.execute(text("select pg_sleep(0.005)"))
                        conn.commit()

            others = [threading.Thread(target=other_traffic) for _ in range(2)]
            for thread in others:
                thread.start()
            access_log = AccessLog(engine)
            caplog.set_level(logging.ERROR, logger="app.odata.accesslog")
            try:
                for number in range(60):  # psycopg would prepare the insert from its 5th run on one connection
                    access_log.record(
                        {
                            "feed": "f",
                            "username": "u",
                            "client": "127.0.0.1",
                            "method": "GET",
                            "path": f"/odata/v4/f/x?n={number}",
                            "entity_set": "x",
                            "rows": 1,
                            "status": 200,
                            "duration_ms": 1,
                        }
                    )
                    access_log.flush()
            finally:
                stop.set()
                for thread in others:
                    thread.join()
            with engine.connect() as conn:
                written = conn.execute(text("select count(*) from orgfeed.access_log")).scalar()
            engine.dispose()
        assert (written, [record.getMessage() for record in caplog.records]) == (60, [])
    finally:
        drop_database(server_url, name)
