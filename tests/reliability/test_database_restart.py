"""PostgreSQL stopped and started under the running system; nothing is lost and everything recovers by itself.

A throw-away cluster (tests/reliability/servers.py; never the machine's own) holds the warehouse. While
a full load (`orgfeed sync --full --org amer`), the incremental rounds of a worker (`orgfeed sync
--watch --org emea`), a view apply (held inside its transaction by a lock the test takes) and 16 feed
clients run, the cluster is stopped (`pg_ctl stop -m fast`, which ends every session) and started again.

Then: the full load's run exits 1 with its object Failed and DATABASE_UNAVAILABLE in the sync log; the
worker is still running and its next round syncs everything; the view apply exits 1 with one line and
applies on a second try; a new `orgfeed sync` reaches exact parity (no duplicates, no watermark ahead of
the rows); the feed answered only 200, or 503 with `Retry-After` and an OData error body while the
database was down, recovered without a gunicorn restart, and its access log lost no request. The soak
version (tests/soak) restarts five times on larger orgs.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import text

from app.emulator.emulator import Emulator
from app.odata.feeds import create_feed
from app.warehouse.database import create_database_engine
from app.warehouse.migrate import upgrade_database
from tests.support.clusters import BIN, Cluster, throwaway_cluster
from tests.support.configs import write_full_config
from tests.support.emulators import start_emulator
from tests.support.parity import assert_committed_state_is_consistent, assert_every_object_in_parity
from tests.support.processes import ORGFEED, ROOT, run_orgfeed, summary_of
from tests.support.servers import web_server

from .test_crash_safety import toggle_view_columns

pytestmark = pytest.mark.skipif(
    not (BIN / "pg_ctl").exists(),
    reason=f"needs the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) in {BIN}",
)

CI_ROWS = {"Employee": 1200, "EmployeeCrisisAssessment": 300, "Account": 100, "Contact": 1100}
FEED_CLIENTS = 16


@dataclass
class FeedAnswers:
    """Every answer the feed clients got: (monotonic time, status or exception name, what was wrong or None)."""

    answers: list[tuple[float, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: str, problem: str | None) -> None:
        with self.lock:
            self.answers.append((time.monotonic(), status, problem))

    @property
    def problems(self) -> list[str]:
        return [problem for _, _, problem in self.answers if problem]

    def count(self, status: str, after: float = float("-inf"), before: float = float("inf")) -> int:
        return sum(1 for at, got, _ in self.answers if got == status and after <= at <= before)


def judge(response: requests.Response, path: str, counts: dict[str, int]) -> str | None:
    """None when `response` is one the feed may give: 200 with the view's exact count, or 503 with Retry-After
    and an OData error body."""
    if response.status_code == 200:
        view, _, rest = path.partition("/")
        view = view.partition("?")[0]
        body = response.json()
        if rest == "$count":
            return None if body == counts[view] else f"{path}: count {body}, not {counts[view]}"
        ok = body["@odata.count"] == counts[view] and len(body["value"]) == min(26, counts[view])
        return None if ok else f"{path}: {body['@odata.count']} rows and a page of {len(body['value'])}"
    if response.status_code == 503:
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            return f"503 without an OData error body: {response.text[:200]!r}"
        if response.headers.get("Retry-After") != "5":
            return f"503 without Retry-After: {dict(response.headers)}"
        return None if error.get("code") == "DatabaseUnavailable" else f"503 {error}"
    return f"{response.status_code}: {response.text[:300]}"


def feed_client(
    root: str, auth: tuple[str, str], counts: dict[str, int], stop: threading.Event, seen: FeedAnswers, n: int
) -> None:
    """One client: a list page with $count and a /$count, in turn, until `stop`; every answer goes to `seen`."""
    session = requests.Session()
    session.auth = auth
    session.headers["X-Forwarded-For"] = f"10.88.0.{n}"
    views = sorted(counts)
    paths = [f"{views[n % 2]}?$select=id,geo&$orderby=id&$top=26&$count=true", f"{views[(n + 1) % 2]}/$count"]
    turn = 0
    while not stop.is_set():
        path = paths[turn % 2]
        turn += 1
        try:
            response = session.get(root + path, timeout=30)
            problem = judge(response, path, counts)
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            seen.add(type(error).__name__, f"{path}: {type(error).__name__}: {error}")
            continue
        seen.add(str(response.status_code), problem)
        if response.status_code == 503:
            time.sleep(0.05)  # a real client waits Retry-After; a short pause keeps the count meaningful
    session.close()


@contextlib.contextmanager
def feed_clients(
    root: str, auth: tuple[str, str], seen: FeedAnswers, *, counts: dict[str, int], clients: int = FEED_CLIENTS
) -> Iterator[None]:
    """`clients` feed clients reading views of known `counts` (view -> rows) while the block runs."""
    stop = threading.Event()
    threads = [threading.Thread(target=feed_client, args=(root, auth, counts, stop, seen, n)) for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


class JsonProcess:
    """An `orgfeed` command printing JSON lines, read in a thread; `events` fills as it runs."""

    def __init__(self, env: dict[str, str], *args: str):
        self.process = subprocess.Popen(
            [*ORGFEED, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.events: list[dict] = []
        self.stderr = ""
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def loading(self) -> bool:
        """True once it has committed or staged a page of rows."""
        return any(event.get("event") == "rows" and event.get("rows") for event in self.events)

    def summaries(self) -> list[dict]:
        return [event for event in self.events if event.get("event") == "summary"]

    def kill(self) -> None:
        """Ends the process if it still runs (a failed test must not leave it behind)."""
        if self.process.poll() is None:
            self.process.kill()
            self.finish()

    def finish(self, timeout: float = 240, *, terminate: bool = False) -> int:
        if terminate:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=30)
            assert self.process.stdout is not None and self.process.stderr is not None
            self.process.stdout.close()
            self.stderr = self.process.stderr.read()
            self.process.stderr.close()
        return self.process.returncode


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def change_both_orgs(emu: Emulator, round_number: int) -> None:
    """Work for incremental runs: updates in every object of emea, and some in amer."""
    for org, share in (("emea", 1.0), ("amer", 0.1)):
        for sobject, name_field in (("Contact", "LastName"), ("Account", "Name"), ("Employee", "LastName")):
            ids = emu.ids(org, sobject)
            picked = ids[: max(1, int(len(ids) * share))]
            emu.update(
                org,
                sobject,
                [{"Id": record_id, name_field: f"Restart {round_number} {n}"} for n, record_id in enumerate(picked)],
            )
    emu.advance_clock(5)


@dataclass
class RestartFigures:
    downtime: float  # from the stop command to the server accepting connections again
    feed_responses: int  # HTTP answers the feed gave during the round
    feed_503: int
    feed_recovery: float  # from the server accepting connections to the first 200 after it
    load_failed: list[str]  # the full load's objects that ended Failed


def restart_under_load(
    cluster: Cluster, emu: Emulator, env: dict[str, str], config: Path, root: str, auth: tuple[str, str], number: int
) -> RestartFigures:
    """One restart with a full load, a worker round, a blocked view apply and the feed clients running."""
    database_url = f"{cluster.url}/orgfeed"
    change_both_orgs(emu, number)
    # Slow the org down so the loads are still running when the database stops.
    emu.inject_fault("delay", "*/query*", count=24, seconds=0.5)
    seen = FeedAnswers()
    with psycopg.connect(database_url) as conn:  # the orgs only change values, never the number of rows
        counts = {
            view: conn.execute(f"select count(*) from public.{view}").fetchone()[0]
            for view in ("global_assessment", "global_contact")
        }
    toggle_view_columns(config)
    generated = run_orgfeed(env, "views", "generate")
    assert generated.returncode == 0, generated.stderr
    with feed_clients(root, auth, seen, counts=counts), contextlib.ExitStack() as cleanup:
        full = JsonProcess(env, "sync", "--json", "--full", "--org", "amer")
        cleanup.callback(full.kill)
        worker = JsonProcess(env, "sync", "--watch", "--json", "--org", "emea")
        cleanup.callback(worker.kill)
        wait_until(lambda: full.loading() and worker.loading(), 120, "the loads never started loading")
        # The view apply waits, inside its transaction, for a lock the test holds (briefly: feed reads wait too).
        blocker = psycopg.connect(database_url)
        blocker.execute("lock table public.global_contact in access exclusive mode")
        cleanup.callback(blocker.close)
        apply = subprocess.Popen(
            [*ORGFEED, "views", "apply"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        cleanup.callback(lambda: apply.poll() is None and apply.kill())
        wait_until(lambda: waiting_for_lock(database_url), 60, "views apply never reached its lock")
        assert full.process.poll() is None and not worker.summaries(), "a load finished before the restart"
        stopping = time.monotonic()
        cluster.stop("fast")
        blocker.close()
        cluster.start()
        up = time.monotonic()
        wait_until(lambda: seen.count("200", after=up) >= FEED_CLIENTS, 60, "the feed did not recover")
        time.sleep(1)
        load_status = full.finish()
        apply_out, apply_err = apply.communicate(timeout=120)
        wait_until(lambda: len(worker.summaries()) >= 2, 120, "the worker's next round never came")
        worker_status = worker.finish(terminate=True)
    first_200 = min(at for at, status, _ in seen.answers if status == "200" and at >= up)
    figures = RestartFigures(
        downtime=up - stopping,
        feed_responses=sum(1 for _, status, _ in seen.answers if status.isdigit()),
        feed_503=seen.count("503"),
        feed_recovery=first_200 - up,
        load_failed=[],
    )
    assert seen.problems == [], (len(seen.problems), seen.problems[:10])
    assert seen.count("503") >= 1, "no request met the stopped database"

    assert load_status == 1, full.stderr[-3000:]
    assert "Traceback" not in full.stderr, full.stderr[-3000:]
    [load_summary] = full.summaries()
    outcome = {o["object"]: (o["status"], o["message"]) for o in load_summary["objects"]}
    figures.load_failed = sorted(name for name, (status, _) in outcome.items() if status == "failed")
    assert figures.load_failed, outcome
    assert {status for status, _ in outcome.values()} <= {"succeeded", "failed"}, outcome
    for name in figures.load_failed:  # the load's own connection or its lock session met the stop first
        assert outcome[name][1].startswith(("the database is unavailable", "lost the lock")), outcome[name]

    assert apply.returncode == 1, apply_out + apply_err
    assert apply_err.startswith("error: view ") and "Traceback" not in apply_err, apply_err
    reapplied = run_orgfeed(env, "views", "apply")
    assert reapplied.returncode == 0, reapplied.stdout + reapplied.stderr

    rounds = worker.summaries()
    assert "failed" in {o["status"] for o in rounds[0]["objects"]}, rounds[0]  # the round the stop cut short
    assert [o["status"] for o in rounds[-1]["objects"]] == ["succeeded"] * 4, rounds[-1]
    assert worker_status == 1 and "Traceback" not in worker.stderr, worker.stderr[-3000:]
    return figures


def waiting_for_lock(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        return bool(
            conn.execute(
                "select count(*) from pg_stat_activity "
                "where wait_event_type = 'Lock' and query like '%create or replace view public.global_contact %'"
            ).fetchone()[0]
        )


def restarts_lose_nothing(tmp_path: Path, rows: dict[str, int], restarts: int) -> list[RestartFigures]:
    """Sets up a cluster, orgs, views, a feed and gunicorn; restarts the cluster `restarts` times under load.

    After each restart a new `orgfeed sync` reaches exact parity and the sync log names the failure;
    at the end the access log holds a row for every answer the feed gave.
    """
    with throwaway_cluster() as cluster:
        database_url = f"{cluster.url}/orgfeed"
        upgrade_database(database_url)
        emu = start_emulator(rows, seed=61)
        engine = create_database_engine(database_url, pool_size=2)
        try:
            config, env = write_full_config(emu, tmp_path, database_url, bulk_threshold=1000)
            config.write_text(config.read_text().replace('fields = "*"\n', 'fields = "*"\npoll_seconds = 10\n'))
            first = run_orgfeed(env, "sync", "--json")
            assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
            credential = create_feed(engine, "restart", ["global_assessment", "global_contact"], base_url="http://x")
            assert credential.credential is not None
            auth = (credential.credential.username, credential.credential.password)
            figures: list[RestartFigures] = []
            with web_server(database_url, config, workers=2) as server:
                url = server.url
                for number in range(restarts):
                    figures.append(
                        restart_under_load(cluster, emu, env, config, f"{url}/odata/v4/restart/", auth, number)
                    )
                    final = run_orgfeed(env, "sync", "--json", "--org", "amer")  # the worker already did emea
                    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
                    assert {o["status"] for o in summary_of(final)["objects"]} == {"succeeded"}
                    assert_every_object_in_parity(emu, engine)
                    assert_committed_state_is_consistent(engine)
                    assert logged_failures(engine) >= number + 1
                answered = sum(figure.feed_responses for figure in figures)
                wait_until(lambda: access_log_rows(engine) >= answered, 90, "the access log lost requests")
            assert access_log_rows(engine) == answered
            return figures
        finally:
            engine.dispose()
            emu.stop()


def logged_failures(engine) -> int:
    """Sync-log entries saying an object failed because the database went away (or took its lock with it)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "select count(*) from orgfeed.sync_log where status = 'Failed' "
                "and error_code in ('DATABASE_UNAVAILABLE', 'LOCK_LOST')"
            )
        ).scalar()


def access_log_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select count(*) from orgfeed.access_log where feed = 'restart'")).scalar()


def print_figures(figures: list[RestartFigures]) -> None:
    for number, figure in enumerate(figures, 1):
        print(
            f"\nrestart {number}: database down {figure.downtime:.2f} s; the feed gave {figure.feed_responses} "
            f"answers, {figure.feed_503} of them 503 with Retry-After and an OData body, no other error; first 200 "
            f"{figure.feed_recovery:.2f} s after the database was back; the full load ended Failed for "
            f"{', '.join(figure.load_failed)}, the worker's next round and the next run reached exact parity"
        )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_database_restart_under_loads_a_view_apply_and_16_feed_clients_loses_nothing(tmp_path):
    print_figures(restarts_lose_nothing(tmp_path, CI_ROWS, restarts=1))
