"""Helpers for the reliability tests: real `orgfeed` processes, a real gunicorn, exact end-state checks.

The CI portion lives here with bounded sizes; tests/soak/ runs the same checks at full size
(`ORGFEED_SOAK=1 pytest tests/soak`). Both import what they share from this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import requests
from psycopg import sql
from sqlalchemy import text

from app.emulator.config_out import render_config
from app.emulator.demo import demo_orgs
from app.emulator.emulator import Emulator

from ..sync.conftest import OBJECTS, assert_parity, write_config

ROOT = Path(__file__).resolve().parents[2]
ORGFEED = [sys.executable, "-m", "app"]
VIEWS = ("global_assessment", "global_contact")


def start_emulator(rows: dict[str, int] | int, seed: int = 23) -> Emulator:
    return Emulator(demo_orgs(rows=rows, seed=seed)).start()


def view_sections() -> str:
    """The demo's [[views]] entries (global_assessment, global_contact), as `orgfeed emulator --config-out` writes them."""
    text_ = render_config([], Path("/unused"))
    return text_[text_.index("[[views]]"):text_.index("[[feeds]]")]


def write_full_config(emu: Emulator, directory: Path, database_url: str, *, bulk_threshold: int = 1000,
                      auto_apply_views: bool = True, extra_sync: str = "") -> tuple[Path, dict[str, str]]:
    """write_config's orgfeed.toml plus the demo views (applied by every sync when auto_apply_views)."""
    config, env = write_config(emu, directory, database_url, bulk_threshold=bulk_threshold)
    body = config.read_text().replace(
        "[sync]\n", f"[sync]\nauto_apply_views = {str(auto_apply_views).lower()}\n{extra_sync}", 1)
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
        tables = conn.execute(text(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('amer', 'emea') and table_type = 'BASE TABLE'")).all()
        leftovers = [f"{schema}.{table}" for schema, table in tables if table.endswith("__shadow")]
        assert not leftovers, f"shadow tables outlived their transaction: {leftovers}"
        for schema, table in tables:
            columns = conn.execute(text("select column_name from information_schema.columns "
                                        "where table_schema = :s and table_name = :t"), {"s": schema, "t": table}).scalars().all()
            if "sfid" not in columns:
                continue
            total, distinct = conn.execute(text(f'select count(*), count(distinct sfid) from "{schema}"."{table}"')).one()
            assert total == distinct, f"{schema}.{table}: {total - distinct} duplicate rows"
        for org, sobject, watermark in conn.execute(text(
                "select org, sobject, watermark from orgfeed.mappings where watermark is not null")).all():
            newest = conn.execute(text(f'select max(systemmodstamp) from "{org}"."{sobject.lower()}"')).scalar()
            assert newest is not None and watermark <= newest, (org, sobject, watermark, newest)
        present = set(conn.execute(text("select viewname from pg_views where schemaname = 'public'")).scalars())
        bases = {"global_assessment": "employeecrisisassessment", "global_contact": "contact"}
        for view in VIEWS:
            if view not in present:
                continue
            total, distinct = conn.execute(text(f"select count(*), count(distinct id) from public.{view}")).one()
            assert total == distinct, f"{view}: duplicate ids"
            live = sum(conn.execute(text(f'select count(*) from "{org}"."{bases[view]}" where isdeleted is not true')).scalar()
                       for org in ("amer", "emea"))
            assert total == live, f"{view}: {total} rows but the tables hold {live} live rows"


def view_columns(engine, view: str) -> list[str]:
    with engine.connect() as conn:
        return conn.execute(text("select column_name from information_schema.columns where table_schema = 'public' "
                                 "and table_name = :v order by ordinal_position"), {"v": view}).scalars().all()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile_web_command() -> str:
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")]
    return line.removeprefix("web:").strip()


@contextlib.contextmanager
def web_server(database_url: str, config: Path, *, odata_database_url: str | None = None,
               workers: int = 1) -> Iterator[str]:
    """The Procfile's gunicorn command on a free port of 127.0.0.1; yields its base URL and stops it afterwards."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("ODATA_DATABASE_URL",)}
    env.update(PORT=str(port), WEB_CONCURRENCY=str(workers), DATABASE_URL=database_url, ORGFEED_CONFIG=str(config),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    if odata_database_url:
        env["ODATA_DATABASE_URL"] = odata_database_url
    command = procfile_web_command().replace("0.0.0.0", "127.0.0.1").replace("--access-logfile -", "")
    process = subprocess.Popen([shutil.which("bash") or "/bin/bash", "-c", f"exec {command}"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + "/odata/v4/", timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stderr.close()


def drop_feed_roles(database_url: str, names: list[str]) -> None:
    """Drops feed read roles left behind (roles are cluster-wide; the test database is dropped anyway)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name in names:
            role = f"orgfeed_feed_{name}"
            if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
                conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
