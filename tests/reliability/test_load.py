"""Load: 32 concurrent clients read the feed through gunicorn while full reloads and view re-applies run.

The orgs do not change during the window, so every answer must be exact: each list page, count
and key lookup returns 200 with the view's full row count (never an empty or half-loaded view),
while `orgfeed sync --full` swaps every table in and `orgfeed views apply` drops and recreates the
views (their columns toggled) in a loop. CI runs 10 s; tests/soak runs 60 s.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
from sqlalchemy import text

from app.odata.feeds import create_feed, delete_feed
from tests.support.configs import write_full_config
from tests.support.databases import unique_name
from tests.support.emulators import start_emulator
from tests.support.processes import ORGFEED, ROOT, run_orgfeed
from tests.support.servers import web_server

from .test_crash_safety import toggle_view_columns

LOAD_ROWS = {"Employee": 3000, "EmployeeCrisisAssessment": 2000, "Account": 500, "Contact": 1500}
CLIENTS = 32


@dataclass
class LoadResult:
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    writer_runs: Counter = field(default_factory=Counter)  # "sync --full" / "views apply" -> runs finished with 0
    writer_failures: list[str] = field(default_factory=list)


def expected_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            view: conn.execute(text(f"select count(*) from public.{view}")).scalar()
            for view in ("global_assessment", "global_contact")
        }


def read_loop(
    root: str,
    auth: tuple[str, str],
    counts: dict[str, int],
    some_ids: dict[str, str],
    stop: threading.Event,
    result: LoadResult,
    lock: threading.Lock,
    number: int,
) -> None:
    """One client: list pages with counts, /$count, a key lookup and a filter, round and round."""
    session = requests.Session()
    session.auth = auth
    session.headers["X-Forwarded-For"] = f"10.77.0.{number}"
    view_names = sorted(counts)
    turn = number
    while not stop.is_set():
        view = view_names[turn % len(view_names)]
        checks = [
            (
                f"{view}?$select=id,geo&$orderby=id&$top=26&$count=true",
                lambda body, view=view: (
                    body["@odata.count"] == counts[view] and len(body["value"]) == min(26, counts[view])
                ),
            ),
            (f"{view}/$count", lambda body, view=view: body == counts[view]),
            (f"{view}('{some_ids[view]}')", lambda body, view=view: body["id"] == some_ids[view]),
            (
                f"{view}?$filter=geo eq 'EMEA'&$count=true&$top=0&$select=id",
                lambda body: body["@odata.count"] > 0 and body["value"] == [],
            ),
        ]
        path, ok = checks[turn % len(checks)]
        turn += 1
        try:
            response = session.get(root + path, timeout=60)
            body = response.json() if response.status_code == 200 else None
            good = response.status_code == 200 and ok(body)
            problem = None if good else f"{path}: {response.status_code} {response.text[:300]}"
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            problem = f"{path}: {type(error).__name__}: {error}"
        with lock:
            result.requests += 1
            if problem:
                result.errors.append(problem)
    session.close()


def write_loop(env: dict[str, str], config, stop: threading.Event, result: LoadResult) -> None:
    """Full reloads and view re-applies (columns toggled, so views are dropped and recreated) until stopped."""
    turn = 0
    while not stop.is_set():
        if turn % 2 == 1:
            name, command = "sync --full", ["sync", "--json", "--full"]
        else:
            toggle_view_columns(config)
            generated = run_orgfeed(env, "views", "generate")
            if generated.returncode != 0:
                result.writer_failures.append(f"views generate: {generated.stderr[-1000:]}")
            name, command = "views apply", ["views", "apply"]
        completed = subprocess.run([*ORGFEED, *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=280)
        if completed.returncode == 0:
            result.writer_runs[name] += 1
        else:
            result.writer_failures.append(f"{name}: {completed.stdout[-1000:]} {completed.stderr[-2000:]}")
        turn += 1


def run_load(engine, database_url: str, directory, *, seconds: float, rows=LOAD_ROWS) -> LoadResult:
    emu = start_emulator(rows, seed=31)
    feed = unique_name("load").replace("_", "")
    try:
        config, env = write_full_config(emu, directory, database_url, bulk_threshold=1000)
        first = run_orgfeed(env, "sync", "--json")
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        credential = create_feed(
            engine, feed, ["global_assessment", "global_contact"], base_url="http://localhost"
        ).credential
        counts = expected_counts(engine)
        with engine.connect() as conn:
            some_ids = {
                view: conn.execute(text(f"select id from public.{view} order by id desc limit 1")).scalar()
                for view in counts
            }
        result, lock, stop = LoadResult(), threading.Lock(), threading.Event()
        with web_server(database_url, config, workers=2) as server:
            root = f"{server.url}/odata/v4/{feed}/"
            readers = [
                threading.Thread(
                    target=read_loop,
                    args=(
                        root,
                        (credential.username, credential.password),
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
            writer = threading.Thread(target=write_loop, args=(env, config, stop, result))
            writer.start()
            for reader in readers:
                reader.start()
            time.sleep(seconds)
            stop.set()
            for reader in readers:
                reader.join(timeout=120)
            writer.join(timeout=280)
        assert expected_counts(engine) == counts
        return result
    finally:
        delete_feed(engine, feed)
        emu.stop()


@pytest.mark.slow
def test_32_clients_for_10_seconds_see_whole_views_while_tables_and_views_are_replaced(engine, database_url, tmp_path):
    result = run_load(engine, database_url, tmp_path, seconds=10)
    print(f"\n{result.requests} requests by {CLIENTS} clients; writer runs {dict(result.writer_runs)}")
    assert result.writer_failures == []
    assert result.errors == [], (len(result.errors), result.errors[:10])
    assert result.writer_runs["sync --full"] >= 1 and result.writer_runs["views apply"] >= 1, result.writer_runs
    assert result.requests >= CLIENTS * 5, result.requests
