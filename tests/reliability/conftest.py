"""Helpers for the reliability tests: real `orgfeed` processes, a real gunicorn, exact end-state checks.

The CI portion lives here with bounded sizes; tests/soak/ runs the same checks at full size
(`ORGFEED_SOAK=1 pytest tests/soak`). Both import what they share from this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import text

from app.emulator.config_out import render_config
from app.emulator.demo.orgs import demo_orgs
from app.emulator.emulator import Emulator
from app.odata.feeds import Credential

from ..sync.conftest import OBJECTS, assert_parity, write_config
from .servers import Pooler, free_port, pgbouncer

ROOT = Path(__file__).resolve().parents[2]
ORGFEED = [sys.executable, "-m", "app"]
VIEWS = ("global_assessment", "global_contact")


def start_emulator(rows: dict[str, int] | int, seed: int = 23) -> Emulator:
    return Emulator(demo_orgs(rows=rows, seed=seed)).start()


def view_sections() -> str:
    """The demo's [[views]] entries (global_assessment, global_contact), as `orgfeed emulator --config-out` writes them."""
    text_ = render_config([], Path("/unused"))
    return text_[text_.index("[[views]]") : text_.index("[[feeds]]")]


def write_full_config(
    emu: Emulator,
    directory: Path,
    database_url: str,
    *,
    bulk_threshold: int = 1000,
    auto_apply_views: bool = True,
    extra_sync: str = "",
) -> tuple[Path, dict[str, str]]:
    """write_config's orgfeed.toml plus the demo views (applied by every sync when auto_apply_views)."""
    config, env = write_config(emu, directory, database_url, bulk_threshold=bulk_threshold)
    body = config.read_text().replace(
        "[sync]\n", f"[sync]\nauto_apply_views = {str(auto_apply_views).lower()}\n{extra_sync}", 1
    )
    config.write_text(body + view_sections())
    return config, env


def run_orgfeed(env: dict[str, str], *args: str, timeout: float = 280) -> subprocess.CompletedProcess:
    return subprocess.run([*ORGFEED, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def summary_of(result: subprocess.CompletedProcess) -> dict:
    """The final `summary` JSON line of `orgfeed sync --json`."""
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["event"] == "summary", result.stdout[-2000:]
    return summary


def assert_every_object_in_parity(emu: Emulator, engine) -> None:
    for org in ("amer", "emea"):
        for sobject in OBJECTS:
            assert_parity(emu, engine, org, sobject)


def assert_committed_state_is_consistent(engine) -> None:
    """What holds after any crash: no duplicate rows, watermarks never ahead of the committed rows, whole views.

    - every table's sfids are unique, and so are the ids of every view;
    - each mapping's watermark is at most the newest SystemModstamp its table holds (a watermark ahead of
      the data would make the next incremental run skip rows);
    - no shadow table of an interrupted full load is left behind;
    - each view either does not exist yet or has every column of its spec and exactly the live rows of its
      base tables.
    """
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('amer', 'emea') and table_type = 'BASE TABLE'"
            )
        ).all()
        leftovers = [f"{schema}.{table}" for schema, table in tables if table.endswith("__shadow")]
        assert not leftovers, f"shadow tables outlived their transaction: {leftovers}"
        for schema, table in tables:
            columns = (
                conn.execute(
                    text(
                        "select column_name from information_schema.columns where table_schema = :s and table_name = :t"
                    ),
                    {"s": schema, "t": table},
                )
                .scalars()
                .all()
            )
            if "sfid" not in columns:
                continue
            total, distinct = conn.execute(
                text(f'select count(*), count(distinct sfid) from "{schema}"."{table}"')
            ).one()
            assert total == distinct, f"{schema}.{table}: {total - distinct} duplicate rows"
        for org, sobject, watermark in conn.execute(
            text("select org, sobject, watermark from orgfeed.mappings where watermark is not null")
        ).all():
            newest = conn.execute(text(f'select max(systemmodstamp) from "{org}"."{sobject.lower()}"')).scalar()
            assert newest is not None and watermark <= newest, (org, sobject, watermark, newest)
        present = set(conn.execute(text("select viewname from pg_views where schemaname = 'public'")).scalars())
        bases = {"global_assessment": "employeecrisisassessment", "global_contact": "contact"}
        for view in VIEWS:
            if view not in present:
                continue
            total, distinct = conn.execute(text(f"select count(*), count(distinct id) from public.{view}")).one()
            assert total == distinct, f"{view}: duplicate ids"
            live = sum(
                conn.execute(text(f'select count(*) from "{org}"."{bases[view]}" where isdeleted is not true')).scalar()
                for org in ("amer", "emea")
            )
            assert total == live, f"{view}: {total} rows but the tables hold {live} live rows"


def view_columns(engine, view: str) -> list[str]:
    with engine.connect() as conn:
        return (
            conn.execute(
                text(
                    "select column_name from information_schema.columns where table_schema = 'public' "
                    "and table_name = :v order by ordinal_position"
                ),
                {"v": view},
            )
            .scalars()
            .all()
        )


def procfile_web_command() -> str:
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")]
    return line.removeprefix("web:").strip()


@contextlib.contextmanager
def web_server(
    database_url: str,
    config: Path,
    *,
    odata_database_url: str | None = None,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """The Procfile's gunicorn command on a free port of 127.0.0.1; yields its base URL and stops it afterwards."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("ODATA_DATABASE_URL",)}
    env.update(
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        DATABASE_URL=database_url,
        ORGFEED_CONFIG=str(config),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    if odata_database_url:
        env["ODATA_DATABASE_URL"] = odata_database_url
    env.update(extra_env or {})
    command = procfile_web_command().replace("0.0.0.0", "127.0.0.1").replace("--access-logfile -", "")
    process = subprocess.Popen(
        [shutil.which("bash") or "/bin/bash", "-c", f"exec {command}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + "/odata/v4/", timeout=5)
                break
            except requests.RequestException:  # not listening yet, or a worker still booting
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(
            ProcessLookupError
        ):  # SIGINT: gunicorn's quick shutdown (SIGTERM waits for keep-alives)
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stderr.close()


@pytest.fixture(scope="session")
def pooler(server_url: str) -> Iterator[Pooler]:
    """PgBouncer in transaction mode in front of the test server, for the whole session."""
    with pgbouncer(server_url) as running:
        yield running


# -- a feed site for hostile input, auth and the role's privileges ---------------------------------

HIDDEN_MARK = "HIDDENMARK"  # in every row of a view no test feed lists
ORG_MARK = "ORGSECRET"  # in every row of the per-org table amer.contact
SENTINEL_NOTE = "sentinel-intact"

SITE_SQL = f"""
create schema amer;
create table amer.contact (id serial primary key, sfid varchar(18) unique, lastname varchar(80), isdeleted boolean);
insert into amer.contact (sfid, lastname, isdeleted)
    select '0035e' || lpad(i::text, 13, '0'), '{ORG_MARK} ' || i, false from generate_series(1, 50) as i;
create table public.sentinel (id integer primary key, note text not null);
insert into public.sentinel values (1, '{SENTINEL_NOTE}');
create table public.people_src (
    id varchar(18) primary key, geo varchar(10) not null, name varchar(80), amount numeric(12, 2), born date,
    updated timestamptz, active boolean, notes text);
insert into public.people_src
    select 'p' || lpad(i::text, 5, '0'), (array['AMER', 'EMEA', 'APAC'])[1 + i % 3],
           (array['Smith', 'O''Brien', '50% off', 'a_b', 'Zoë', ' pad ', 'back\\slash', null])[1 + i % 8] || ' ' || i,
           case when i % 7 = 0 then null else (i * 13.37)::numeric(12, 2) end,
           date '1970-01-01' + i * 37, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour',
           case when i % 5 = 0 then null else i % 2 = 0 end, case when i % 4 = 0 then null else 'note ' || i end
    from generate_series(1, 300) as i;
create view public.feed_people as select id, geo, name, amount, born, updated, active, notes from public.people_src;
create view public.feed_big as select 'b' || lpad(i::text, 6, '0') as id, 'AMER'::varchar(4) as geo, i as n
    from generate_series(1, 3000) as i;
create view public.hidden_view as select 'h' || lpad(i::text, 5, '0') as id, 'AMER'::varchar(4) as geo,
    '{HIDDEN_MARK} ' || i as name from generate_series(1, 50) as i;
"""


@dataclasses.dataclass(frozen=True)
class FeedSite:
    """A migrated database with views, a sentinel table and a per-org schema, two feeds, and gunicorn serving them."""

    url: str  # gunicorn's base URL
    database_url: str
    feed: Credential  # lists feed_people and feed_big
    other: Credential  # lists hidden_view only
    engine: object

    def root(self, credential: Credential | None = None) -> str:
        return f"{self.url}/odata/v4/{(credential or self.feed).feed}/"


@contextlib.contextmanager
def feed_site(server_url: str, migrated_template: str, directory: Path, *, workers: int = 1) -> Iterator[FeedSite]:
    from app.odata.feeds import create_feed, delete_feed
    from app.warehouse.database import create_database_engine

    from ..conftest import create_database, drop_database, unique_name

    name = unique_name("orgfeed_reliability")
    database_url = create_database(server_url, name, template=migrated_template)
    engine = create_database_engine(database_url, pool_size=2)
    feeds: list[str] = []
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(SITE_SQL)
        credentials = []
        for views in (["feed_people", "feed_big"], ["hidden_view"]):
            feeds.append(unique_name("rel").replace("_", ""))
            created = create_feed(engine, feeds[-1], views, base_url="http://localhost")
            assert created.credential is not None and created.role_name is not None
            credentials.append(created.credential)
        config = directory / "orgfeed.toml"
        config.write_text("")
        with web_server(database_url, config, workers=workers) as url:
            yield FeedSite(url, database_url, credentials[0], credentials[1], engine)
    finally:
        for feed in feeds:
            delete_feed(engine, feed)
        engine.dispose()
        drop_database(server_url, name)


def sentinel_rows(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("select id, note from public.sentinel order by id").fetchall()
