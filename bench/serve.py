"""Serving the union view over HTTP: gunicorn as the Procfile's web line runs it, over N Employee rows in two orgs.

Setup per size (not timed): the emulator, `orgfeed sync`, `orgfeed views generate` and
`orgfeed views apply` for one view `bench_employee` (Employee of amer and emea, `union all`,
`indexed = ["lastname"]`), a feed through app.odata.feeds.create_feed, and gunicorn started with
the Procfile's `web:` line (tests/support/servers.py: a free $PORT, bound to 127.0.0.1). Measured, each client a
requests.Session with keep-alive and Basic auth:

(a) scan: every row following `@odata.nextLink` with `Prefer: odata.maxpagesize=2000`; bound: an
    in-process psycopg fetch of the same rows and columns (`order by id`, a server-side cursor,
    2,000 rows a batch) encoded with orjson as `{"value": [...]}` pages; target >= 50 % of the
    bound's rows/s.
(b) first page `$top=26&$count=true&$orderby=lastname`: p50 and p99; target p50 <= 150 ms.
(c) key lookup by `$filter=id eq '…'` and by key segment `('…')`, random live ids: p99 <= 7 ms.
(d) 16 concurrent clients replaying Salesforce Connect's request shapes (REPLAY_MIX: list pages
    with $select/$orderby/$top=26/$count=true and $skip, ordered by the indexed lastname or the
    key; list pages filtered by `lastname eq`; detail by `id eq`; contains() search over the text
    columns; $metadata) for 30 s: errors (must be 0), requests/s, p50/p99 overall and per shape.
Peak RSS: gunicorn's master and workers (each process's VmHWM, and the sampled sum).
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import orjson
import psutil
import psycopg
import psycopg.adapt
import psycopg.rows
import requests
from sqlalchemy import create_engine

from app.odata.feeds import create_feed, role_name_for
from bench import harness
from bench.harness import (
    EmulatorProcess,
    RssSampler,
    fresh_database,
    median,
    peak_rss_mb,
    percentile,
    rate,
    run_orgfeed,
    sync_summary,
    table,
    write_config,
)
from tests.support.servers import WebServer, web_server

DEFAULT_ROWS = [100_000, 1_000_000]
VIEW = "bench_employee"
FEED = "bench"
COLUMNS = [
    "FirstName",
    "LastName",
    "Email",
    "WorkPhone",
    "EmployeeNumber",
    "EmployeeStatus",
    "WorkerType",
    "CurrentWellnessStatus",
    "StartDate",
    "HourlyRate__c",
    "FtePercent__c",
    "ManagerId",
]
TEXT_COLUMNS = ["firstname", "lastname", "email", "workphone", "employeenumber"]
VIEW_CONFIG = (
    f'[[views]]\nname = "{VIEW}"\nobject = "Employee"\n'
    "columns = [" + ", ".join(f'"{c}"' for c in COLUMNS) + ']\nindexed = ["lastname"]\n\n'
    f'[[feeds]]\nname = "{FEED}"\nviews = ["{VIEW}"]\n'
)
PAGE = 2000
FIRST_PAGE = "$top=26&$count=true&$orderby=lastname"
TARGET_SCAN_FRACTION = 0.5
TARGET_FIRST_PAGE_P50_MS = 150
TARGET_LOOKUP_P99_MS = 7
CLIENTS = 16
REPLAY_SECONDS = float(os.environ.get("BENCH_REPLAY_SECONDS", "30"))
SAMPLES = {"first_page": 60, "lookup": 300}
# Salesforce Connect's request shapes in (d) and their weights (the README's "Feeds and OData" lists what it sends).
REPLAY_MIX = {"list": 5, "filtered_list": 2, "detail": 4, "search": 1, "metadata": 1}


def run(sizes: list[int], runs: int, replay_seconds: float = REPLAY_SECONDS) -> dict[str, object]:
    return {
        "benchmark": "serve",
        "view": VIEW,
        "columns": ["id", "geo", *[c.lower() for c in COLUMNS]],
        "page_size": PAGE,
        "clients": CLIENTS,
        "replay_seconds": replay_seconds,
        "targets": {
            "scan_fraction_of_bound": TARGET_SCAN_FRACTION,
            "first_page_p50_ms": TARGET_FIRST_PAGE_P50_MS,
            "lookup_p99_ms": TARGET_LOOKUP_P99_MS,
            "replay_errors": 0,
        },
        "sizes": [measure_size(rows, runs, replay_seconds) for rows in sizes],
    }


def measure_size(rows: int, runs: int, replay_seconds: float = REPLAY_SECONDS) -> dict[str, object]:
    try:
        return _measure_size(rows, runs, replay_seconds)
    finally:
        drop_feed_role()


def drop_feed_role() -> None:
    """Drops the feed's read role, which outlives the dropped database (roles belong to the server)."""
    # Another database may still grant the role something: then it is not ours to remove.
    with (
        psycopg.connect(harness.SERVER_URL, autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.DependentObjectsStillExist),
    ):
        conn.execute(f'drop role if exists "{role_name_for(FEED)}"')


def _measure_size(rows: int, runs: int, replay_seconds: float) -> dict[str, object]:
    with (
        EmulatorProcess(rows // 2) as emulator,
        tempfile.TemporaryDirectory(prefix="orgfeed-bench-") as folder,
        fresh_database("serve") as url,
    ):
        env = write_config(emulator, Path(folder), url, VIEW_CONFIG)
        run_orgfeed(["db", "upgrade"], env)
        if not sync_summary(run_orgfeed(["sync", "--json"], env).output)["ok"]:
            raise RuntimeError("the load failed")
        run_orgfeed(["views", "generate"], env)
        run_orgfeed(["views", "apply"], env)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze amer.employee")
            conn.execute("vacuum analyze emea.employee")
        # The Procfile's web line as Heroku runs it: its worker count, its access log.
        with web_server(url, Path(env["ORGFEED_CONFIG"]), workers=None, access_log=True, env=env) as server:
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            try:
                credential = create_feed(engine, FEED, [VIEW], base_url=server.url).credential
            finally:
                engine.dispose()
            client = Client(f"{server.url}/odata/v4/{FEED}", credential.username, credential.password)
            client.wait_ready(server)
            ids = _sample_ids(url, SAMPLES["lookup"])
            with RssSampler(server.process.pid) as sampler:
                scans = [client.scan() for _ in range(runs)]
                bounds = [scan_bound(url) for _ in range(runs)]
                first_page = client.latencies(lambda: client.get(f"/{VIEW}?{FIRST_PAGE}"), SAMPLES["first_page"])
                lookups_filter = client.latencies(
                    lambda: client.get(f"/{VIEW}?$filter=" + quote(f"id eq '{random.choice(ids)}'")), SAMPLES["lookup"]
                )
                lookups_key = client.latencies(
                    lambda: client.get(f"/{VIEW}('{random.choice(ids)}')"), SAMPLES["lookup"]
                )
                replay = run_replay(client, ids, replay_seconds)
            server_rss = server_peak_rss(server.process.pid)
            server_rss["sampled_total_mb"] = sampler.peak_total_mb
        emulator_rss = emulator.peak_rss_mb()
    scan_rows = scans[0]["rows"]
    scan_rate = median([s["rows_per_second"] for s in scans], 0)
    bound_rate = median([b["rows_per_second"] for b in bounds], 0)
    return {
        "rows": rows,
        "view_rows": scan_rows,
        "scan": {
            "runs": scans,
            "rows_per_second_median": scan_rate,
            "bound_runs": bounds,
            "bound_rows_per_second_median": bound_rate,
            "fraction_of_bound": round(scan_rate / bound_rate, 3),
        },
        "first_page": _summary_ms(first_page),
        "lookup_filter": _summary_ms(lookups_filter),
        "lookup_key": _summary_ms(lookups_key),
        "replay": replay,
        "server_peak_rss_mb": server_rss,
        "emulator_peak_rss_mb": emulator_rss,
    }


class Client:
    """A keep-alive HTTP client of the feed's service root."""

    def __init__(self, root: str, username: str, password: str | None) -> None:
        self.root = root
        self.session = requests.Session()
        self.session.auth = (username, password or "")
        self.session.trust_env = False

    def get(self, path: str, **headers: str) -> requests.Response:
        response = self.session.get(self.root + path, headers=headers, timeout=120)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:500]}")
        return response

    def wait_ready(self, server: WebServer, seconds: float = 60) -> None:
        """Returns once the feed answers; raises with gunicorn's log when it exits or does not answer in time."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.get("/$metadata")
                return
            except (requests.ConnectionError, RuntimeError):
                if time.monotonic() > deadline or server.process.poll() is not None:
                    raise RuntimeError(f"gunicorn did not serve the feed:\n{server.read_log()[-3000:]}") from None
                time.sleep(0.2)

    def scan(self) -> dict[str, float]:
        """Every row of the view through server-driven paging (`@odata.nextLink`), 2,000 rows a page."""
        started = time.perf_counter()
        url, rows, pages, size = f"{self.root}/{VIEW}", 0, 0, 0
        while url:
            response = self.session.get(url, headers={"Prefer": f"odata.maxpagesize={PAGE}"}, timeout=120)
            response.raise_for_status()
            size += len(response.content)
            page = orjson.loads(response.content)
            rows += len(page["value"])
            pages += 1
            url = page.get("@odata.nextLink")
        seconds = time.perf_counter() - started
        return {
            "rows": rows,
            "pages": pages,
            "seconds": round(seconds, 3),
            "rows_per_second": rate(rows, seconds),
            "mb": round(size / 1e6, 1),
        }

    def latencies(self, request: Callable[[], object], count: int) -> list[float]:
        """Milliseconds of `count` sequential requests, after 3 warm-up requests."""
        for _ in range(3):
            request()
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            request()
            timings.append((time.perf_counter() - started) * 1000)
        return timings


def scan_bound(url: str) -> dict[str, float]:
    """The physical limit of (a): the view's rows and columns fetched in-process by psycopg and encoded with orjson."""
    columns = ", ".join(["id", "geo", *[c.lower() for c in COLUMNS]])
    started = time.perf_counter()
    rows = size = 0
    with psycopg.connect(url) as conn, conn.cursor(name="bench_scan", row_factory=psycopg.rows.dict_row) as cursor:
        cursor.adapters.register_loader("numeric", NumericAsJson)
        cursor.itersize = PAGE
        cursor.execute(f"select {columns} from public.{VIEW} order by id")
        while batch := cursor.fetchmany(PAGE):
            size += len(orjson.dumps({"value": batch}))
            rows += len(batch)
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_second": rate(rows, seconds),
        "mb": round(size / 1e6, 1),
    }


class NumericAsJson(psycopg.adapt.Loader):
    """numeric's text straight into the JSON as a number (orjson cannot encode Decimal)."""

    def load(self, data):
        return orjson.Fragment(bytes(data))


def run_replay(client: Client, ids: list[str], seconds: float) -> dict[str, object]:
    """CLIENTS threads replaying Salesforce Connect's request shapes for `seconds`; counts, errors and latencies."""
    shapes = replay_shapes(ids, _sample_lastnames(client))
    deadline = time.monotonic() + seconds
    results: list[tuple[str, float, bool]] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(number: int) -> None:
        session = requests.Session()
        session.auth = client.session.auth
        session.trust_env = False
        chooser = random.Random(number)
        mine = []
        while time.monotonic() < deadline:
            name, make_path = chooser.choice(shapes)
            path = make_path(chooser)
            started = time.perf_counter()
            try:
                response = session.get(client.root + path, timeout=120)
                ok = response.status_code == 200
                if not ok:
                    with lock:
                        errors.append(f"{response.status_code} {path[:200]}: {response.text[:200]}")
            except requests.RequestException as error:
                ok = False
                with lock:
                    errors.append(f"{type(error).__name__} {path[:200]}")
            mine.append((name, (time.perf_counter() - started) * 1000, ok))
        with lock:
            results.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = [ms for _, ms, _ in results]
    per_shape = {}
    for name, _ in shapes:
        mine = [ms for shape, ms, _ in results if shape == name]
        if mine and name not in per_shape:
            per_shape[name] = {"requests": len(mine), **_summary_ms(mine)}
    return {
        "mix": REPLAY_MIX,
        "requests": len(results),
        "errors": len(errors),
        "error_samples": errors[:5],
        "requests_per_second": round(len(results) / elapsed, 1),
        **_summary_ms(latencies),
        "per_shape": per_shape,
    }


def replay_shapes(ids: list[str], names: list[str]) -> list[tuple[str, Callable[[random.Random], str]]]:
    """(name, path maker) pairs, repeated to weight them: list pages, filtered list pages and record details
    (ordered and filtered by the view's indexed column or its key, as a list view over an `indexed` column
    is), the search box (contains() over every text column: a scan of the whole view), and $metadata."""
    select = "$select=" + ",".join(["id", "firstname", "lastname", "email", "employeestatus"])

    def list_page(chooser: random.Random) -> str:
        order = chooser.choice(["lastname", "lastname desc", "id", "id desc"])
        skip = chooser.choice([0, 0, 0, 25, 50])
        return f"/{VIEW}?{select}&$orderby={quote(order)}&$count=true&$top=26" + (f"&$skip={skip}" if skip else "")

    def filtered_list(chooser: random.Random) -> str:
        return f"/{VIEW}?{select}&$orderby=firstname&$count=true&$top=26&$filter=" + quote(
            f"lastname eq {_literal(chooser.choice(names))}"
        )

    def detail(chooser: random.Random) -> str:
        return f"/{VIEW}?{select}&$filter=" + quote(f"id eq '{chooser.choice(ids)}'")

    def search(chooser: random.Random) -> str:
        term = chooser.choice(names)[:4]
        condition = " or ".join(f"contains({column},{_literal(term)}) eq true" for column in TEXT_COLUMNS)
        return f"/{VIEW}?{select}&$count=true&$top=26&$filter=" + quote(condition)

    makers = {
        "list": list_page,
        "filtered_list": filtered_list,
        "detail": detail,
        "search": search,
        "metadata": lambda chooser: "/$metadata",
    }
    return [(name, makers[name]) for name, weight in REPLAY_MIX.items() for _ in range(weight)]


def _literal(text: str) -> str:
    """An OData string literal: quoted, with ' doubled."""
    return "'" + text.replace("'", "''") + "'"


def _summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
        "max_ms": round(max(values), 2),
        "samples": len(values),
    }


def _sample_lastnames(client: Client) -> list[str]:
    """A few last names present in the view, read through the feed (for filtered lists and searches)."""
    page = client.get(f"/{VIEW}?$select=id,lastname&$top=200").json()["value"]
    return sorted({row["lastname"] for row in page if row["lastname"]}) or ["Smith"]


def _sample_ids(url: str, count: int) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(f"select id from public.{VIEW} order by random() limit %s", (count,))]


def server_peak_rss(pid: int) -> dict[str, object]:
    """VmHWM of gunicorn's master `pid` and of each of its workers, in MB."""
    return {
        "master_mb": peak_rss_mb(pid),
        "workers_mb": [peak_rss_mb(worker.pid) for worker in psutil.Process(pid).children()],
    }


def render(report: dict[str, object]) -> str:
    sizes = report["sizes"]
    lines = [
        f"Serving the union view {VIEW} ({len(report['columns'])} columns) through gunicorn (the Procfile's web line)",
        "",
        f"(a) full scan following @odata.nextLink, {PAGE:,}-row pages, vs in-process psycopg + orjson "
        f"(target >= {TARGET_SCAN_FRACTION:.0%} of the bound)",
    ]
    lines += table(
        ["rows", "HTTP rows/s", "bound rows/s", "fraction", "scan s", "bound s"],
        [
            [
                s["rows"],
                s["scan"]["rows_per_second_median"],
                s["scan"]["bound_rows_per_second_median"],
                f"{s['scan']['fraction_of_bound']:.1%}",
                median([r["seconds"] for r in s["scan"]["runs"]]),
                median([r["seconds"] for r in s["scan"]["bound_runs"]]),
            ]
            for s in sizes
        ],
    )
    lines += [
        "",
        f"(b) first page {FIRST_PAGE} (target p50 <= {TARGET_FIRST_PAGE_P50_MS} ms); "
        f"(c) key lookups (target p99 <= {TARGET_LOOKUP_P99_MS} ms)",
    ]
    lines += table(
        ["rows", "first p50 ms", "first p99 ms", "id eq p50", "id eq p99", "key p50", "key p99"],
        [
            [
                s["rows"],
                s["first_page"]["p50_ms"],
                s["first_page"]["p99_ms"],
                s["lookup_filter"]["p50_ms"],
                s["lookup_filter"]["p99_ms"],
                s["lookup_key"]["p50_ms"],
                s["lookup_key"]["p99_ms"],
            ]
            for s in sizes
        ],
    )
    lines += [
        "",
        f"(d) {report['clients']} concurrent clients replaying Salesforce Connect requests for "
        f"{report['replay_seconds']:g} s (target: 0 errors)",
    ]
    lines += table(
        [
            "rows",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "list p99",
            "detail p99",
            "search p99",
            "server RSS MB (max process)",
            "sum",
        ],
        [
            [
                s["rows"],
                s["replay"]["requests"],
                s["replay"]["errors"],
                s["replay"]["requests_per_second"],
                s["replay"]["p50_ms"],
                s["replay"]["p99_ms"],
                s["replay"]["per_shape"].get("list", {}).get("p99_ms"),
                s["replay"]["per_shape"].get("detail", {}).get("p99_ms"),
                s["replay"]["per_shape"].get("search", {}).get("p99_ms"),
                max([s["server_peak_rss_mb"]["master_mb"], *s["server_peak_rss_mb"]["workers_mb"]]),
                s["server_peak_rss_mb"]["sampled_total_mb"],
            ]
            for s in sizes
        ],
    )
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        lines += [
            "",
            f"growth {first['rows']:,} -> {last['rows']:,} rows: scan rows/s "
            f"x{last['scan']['rows_per_second_median'] / first['scan']['rows_per_second_median']:.2f}, "
            f"first page p50 x{last['first_page']['p50_ms'] / first['first_page']['p50_ms']:.2f}, "
            f"lookup p99 x{last['lookup_filter']['p99_ms'] / first['lookup_filter']['p99_ms']:.2f}, "
            f"replay req/s x{last['replay']['requests_per_second'] / first['replay']['requests_per_second']:.2f}",
        ]
    for s in sizes:
        if s["replay"]["error_samples"]:
            lines.append(f"errors at {s['rows']:,}: " + " | ".join(s["replay"]["error_samples"]))
    return "\n".join(lines)
