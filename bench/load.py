"""Initial load: `orgfeed sync` of N Employee rows (two emulated orgs, Bulk API 2.0) into fresh schemas, end to end.

For each size the emulator serves N/2 rows per org (full-load CSV warm) in its own process.
Each run gets a fresh database (`orgfeed db upgrade` first, not timed), then `orgfeed sync --json`
runs in its own process: timed from spawn to exit, peak RSS from wait4. The bound, in the same
run: the same CSV (downloaded once from the emulator's Bulk endpoint, the loader's query) COPYed
with the loader's own COPY statement (`force_null` on every column) into a table created like
the loader's (`like <org>.employee including defaults`, no indexes, as the loader's shadow),
both orgs in parallel on two connections, as the loader does. Targets at the largest size:
loader time at most 2x the bound; loader peak RSS at most 300 MB and not growing with N.
"""

from __future__ import annotations

import csv
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from app.warehouse.csvcopy import copy_statement
from app.warehouse.types import column_name
from bench.harness import (
    EmulatorProcess,
    fresh_database,
    median,
    rate,
    run_orgfeed,
    sync_summary,
    system_cpu_seconds,
    table,
    write_config,
)

DEFAULT_ROWS = [100_000, 1_000_000]
TARGET_RATIO = 2.0
TARGET_RSS_MB = 300
ORGS = ("amer", "emea")


def run(sizes: list[int], runs: int) -> dict[str, object]:
    return {
        "benchmark": "load",
        "target_ratio_to_bound": TARGET_RATIO,
        "target_peak_rss_mb": TARGET_RSS_MB,
        "sizes": [measure_size(rows, runs) for rows in sizes],
    }


def measure_size(rows: int, runs: int) -> dict[str, object]:
    with EmulatorProcess(rows // 2) as emulator, tempfile.TemporaryDirectory(prefix="orgfeed-bench-") as folder:
        directory = Path(folder)
        csv_paths = {org: directory / f"{org}.csv" for org in ORGS}
        csv_rows = sum(emulator.bulk_csv(org, path) for org, path in csv_paths.items())
        csv_mb = round(sum(path.stat().st_size for path in csv_paths.values()) / 1e6, 1)
        measured = []
        for _ in range(runs):
            with fresh_database("load") as url:
                env = write_config(emulator, directory, url)
                run_orgfeed(["db", "upgrade"], env)
                emulator_cpu, machine_cpu = emulator.cpu_seconds(), system_cpu_seconds()
                loader = run_orgfeed(["sync", "--json"], env)
                emulator_cpu, machine_cpu = emulator.cpu_seconds() - emulator_cpu, system_cpu_seconds() - machine_cpu
                summary = sync_summary(loader.output)
                if not summary["ok"]:
                    raise RuntimeError(f"the load failed: {summary}")
                bound_seconds = copy_bound(url, csv_paths)
                loaded = count_rows(url)
                if loaded != csv_rows:
                    raise RuntimeError(f"the loader stored {loaded} rows, the orgs hold {csv_rows}")
            measured.append(
                {
                    "loader_seconds": loader.seconds,
                    "loader_peak_rss_mb": loader.peak_rss_mb,
                    "loader_cpu_seconds": loader.cpu_seconds,
                    "emulator_cpu_seconds": round(emulator_cpu, 2),
                    "machine_cpu_seconds": round(machine_cpu, 2),
                    "bound_seconds": bound_seconds,
                    "rows_loaded": loaded,
                }
            )
        emulator_rss = emulator.peak_rss_mb()
    loader_seconds = median([m["loader_seconds"] for m in measured])
    bound_seconds = median([m["bound_seconds"] for m in measured])
    return {
        "rows": rows,
        "csv_rows": csv_rows,
        "csv_mb": csv_mb,
        "runs": measured,
        "loader_seconds_median": loader_seconds,
        "bound_seconds_median": bound_seconds,
        "loader_rows_per_second": rate(rows, loader_seconds),
        "bound_rows_per_second": rate(rows, bound_seconds),
        "ratio_to_bound": round(loader_seconds / bound_seconds, 2),
        "loader_peak_rss_mb": max(m["loader_peak_rss_mb"] for m in measured),
        "loader_cpu_seconds_median": median([m["loader_cpu_seconds"] for m in measured], 2),
        "emulator_cpu_seconds_median": median([m["emulator_cpu_seconds"] for m in measured], 2),
        "machine_cpu_seconds_median": median([m["machine_cpu_seconds"] for m in measured], 2),
        "emulator_peak_rss_mb": emulator_rss,
        "emulator_startup_seconds": emulator.startup_seconds,
    }


def copy_bound(url: str, csv_paths: dict[str, Path]) -> float:
    """Seconds to COPY each org's CSV into a fresh table like the loader's, both orgs at once (wall time)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists bench_bound")
        for org in csv_paths:
            conn.execute(f"drop table if exists bench_bound.{org}_employee")
            conn.execute(f"create table bench_bound.{org}_employee (like {org}.employee including defaults)")
    errors: list[BaseException] = []

    def copy_one(org: str, path: Path) -> None:
        try:
            with psycopg.connect(url) as conn, path.open("rb") as source:
                header = next(csv.reader([source.readline().decode().rstrip("\r\n")]))
                columns = [column_name(name) for name in header]
                with (
                    conn.cursor() as cursor,
                    cursor.copy(copy_statement("bench_bound", f"{org}_employee", columns)) as copy,
                ):
                    while chunk := source.read(1 << 20):
                        copy.write(chunk)
        except BaseException as error:  # noqa: BLE001 - a thread's error, re-raised by the caller
            errors.append(error)

    threads = [threading.Thread(target=copy_one, args=item) for item in csv_paths.items()]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return round(seconds, 3)


def count_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return sum(conn.execute(f"select count(*) from {org}.employee").fetchone()[0] for org in ORGS)


def render(report: dict[str, object]) -> str:
    sizes = report["sizes"]
    lines = [
        f"Initial load: orgfeed sync of Employee from two emulated orgs (Bulk 2.0) vs a bare COPY of the same CSV "
        f"(targets at the largest size: <= {TARGET_RATIO}x the bound, peak RSS <= {TARGET_RSS_MB} MB)",
        "",
    ]
    lines += table(
        [
            "rows",
            "loader s",
            "bound s",
            "x bound",
            "loader rows/s",
            "bound rows/s",
            "loader RSS MB",
            "emulator RSS MB",
            "CPU s: loader",
            "emulator",
            "machine",
        ],
        [
            [
                s["rows"],
                s["loader_seconds_median"],
                s["bound_seconds_median"],
                s["ratio_to_bound"],
                s["loader_rows_per_second"],
                s["bound_rows_per_second"],
                s["loader_peak_rss_mb"],
                s["emulator_peak_rss_mb"],
                s["loader_cpu_seconds_median"],
                s["emulator_cpu_seconds_median"],
                s["machine_cpu_seconds_median"],
            ]
            for s in sizes
        ],
    )
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        lines += [
            "",
            f"growth {first['rows']:,} -> {last['rows']:,} rows (x{last['rows'] / first['rows']:g}): "
            f"loader time x{last['loader_seconds_median'] / first['loader_seconds_median']:.2f}, "
            f"bound time x{last['bound_seconds_median'] / first['bound_seconds_median']:.2f}, "
            f"loader peak RSS x{last['loader_peak_rss_mb'] / first['loader_peak_rss_mb']:.2f}",
        ]
    lines.append(
        "per run (loader s, bound s, loader RSS MB): "
        + "; ".join(
            f"{s['rows']:,}: "
            + ", ".join(f"({r['loader_seconds']}, {r['bound_seconds']}, {r['loader_peak_rss_mb']})" for r in s["runs"])
            for s in sizes
        )
    )
    return "\n".join(lines)
