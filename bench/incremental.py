"""Incremental sync: 1 % of the rows updated and 0.1 % deleted in the orgs, then `orgfeed sync`.

For each size: the emulator (N/2 Employee rows per org) in its own process, a fresh database,
one initial load (`orgfeed sync`, timed: the reference), then `runs` rounds. Each round moves
the emulator's clock an hour on (so the 10-minute lookback never re-reads the previous round),
updates 1 % of the live rows (FirstName) and deletes 0.1 % (to the recycle bin) through the
control API, spread evenly over both orgs, and times `orgfeed sync` in its own process. The
rows come from a random sample of the table. Target: the incremental sync takes at most 5 %
of the initial load's time. The database is checked afterwards: every update arrived and every
deleted row is `isdeleted`. Also reported: a sync with nothing to do (before the first round),
the floor every incremental run pays (process start, login, describe, row counts).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg

from bench.harness import (
    EmulatorProcess,
    fresh_database,
    median,
    run_orgfeed,
    sync_summary,
    table,
    write_config,
)

DEFAULT_ROWS = [100_000, 1_000_000]
TARGET_FRACTION = 0.05
UPDATED = 0.01
DELETED = 0.001
ORGS = ("amer", "emea")
BATCH = 5_000  # records per control-API request


def run(sizes: list[int], runs: int) -> dict[str, object]:
    return {
        "benchmark": "incremental",
        "target_fraction_of_load": TARGET_FRACTION,
        "updated_fraction": UPDATED,
        "deleted_fraction": DELETED,
        "sizes": [measure_size(rows, runs) for rows in sizes],
    }


def measure_size(rows: int, runs: int) -> dict[str, object]:
    with (
        EmulatorProcess(rows // 2) as emulator,
        tempfile.TemporaryDirectory(prefix="orgfeed-bench-") as folder,
        fresh_database("incremental") as url,
    ):
        env = write_config(emulator, Path(folder), url)
        run_orgfeed(["db", "upgrade"], env)
        load = run_orgfeed(["sync", "--json"], env)
        if not sync_summary(load.output)["ok"]:
            raise RuntimeError(f"the initial load failed:\n{load.output[-2000:]}")
        # The floor: a sync with nothing to do (process start, login, describe, counts, an empty query).
        idle = run_orgfeed(["sync", "--json"], env)
        measured = []
        for round_number in range(1, runs + 1):
            emulator.control("POST", "clock", {"advance_seconds": 3600})
            changed = mutate(emulator, url, rows, round_number)
            sync = run_orgfeed(["sync", "--json"], env)
            summary = sync_summary(sync.output)
            if not summary["ok"]:
                raise RuntimeError(f"the incremental sync failed: {summary}")
            check(url, changed, round_number)
            measured.append(
                {
                    "seconds": sync.seconds,
                    "peak_rss_mb": sync.peak_rss_mb,
                    "updated": sum(len(ids) for ids, _ in changed.values()),
                    "deleted": sum(len(ids) for _, ids in changed.values()),
                }
            )
        emulator_rss = emulator.peak_rss_mb()
    seconds = median([m["seconds"] for m in measured])
    return {
        "rows": rows,
        "initial_load_seconds": load.seconds,
        "initial_load_peak_rss_mb": load.peak_rss_mb,
        "runs": measured,
        "incremental_seconds_median": seconds,
        "fraction_of_load": round(seconds / load.seconds, 4),
        "idle_sync_seconds": idle.seconds,
        "incremental_peak_rss_mb": max(m["peak_rss_mb"] for m in measured),
        "emulator_peak_rss_mb": emulator_rss,
    }


def mutate(emulator: EmulatorProcess, url: str, rows: int, round_number: int) -> dict[str, tuple[list[str], list[str]]]:
    """Updates and deletes a random sample of live rows in each org; returns org -> (updated ids, deleted ids)."""
    per_org_updates = max(1, round(rows * UPDATED / len(ORGS)))
    per_org_deletes = max(1, round(rows * DELETED / len(ORGS)))
    changed = {}
    with psycopg.connect(url) as conn:
        for org in ORGS:
            sample = [
                row[0]
                for row in conn.execute(
                    f"select sfid from {org}.employee where not isdeleted order by random() limit %s",
                    (per_org_updates + per_org_deletes,),
                )
            ]
            updates, deletes = sample[:per_org_updates], sample[per_org_updates:]
            for start in range(0, len(updates), BATCH):
                emulator.control(
                    "PATCH",
                    f"orgs/{org}/sobjects/Employee/records",
                    {
                        "records": [
                            {"Id": sfid, "FirstName": f"Round{round_number}"} for sfid in updates[start : start + BATCH]
                        ]
                    },
                )
            emulator.control("POST", f"orgs/{org}/sobjects/Employee/delete", {"ids": deletes})
            changed[org] = (updates, deletes)
    return changed


def check(url: str, changed: dict[str, tuple[list[str], list[str]]], round_number: int) -> None:
    """Raises unless every updated row carries the round's FirstName and every deleted row is isdeleted."""
    with psycopg.connect(url) as conn:
        for org, (updates, deletes) in changed.items():
            updated = conn.execute(
                f"select count(*) from {org}.employee where sfid = any(%s) and firstname = %s",
                (updates, f"Round{round_number}"),
            ).fetchone()[0]
            deleted = conn.execute(
                f"select count(*) from {org}.employee where sfid = any(%s) and isdeleted", (deletes,)
            ).fetchone()[0]
            if (updated, deleted) != (len(updates), len(deletes)):
                raise RuntimeError(
                    f"{org}: {updated}/{len(updates)} updates and {deleted}/{len(deletes)} deletes arrived"
                )


def render(report: dict[str, object]) -> str:
    sizes = report["sizes"]
    lines = [
        f"Incremental sync: {UPDATED:.0%} of the rows updated and {DELETED:.1%} deleted, then orgfeed sync "
        f"(target: <= {TARGET_FRACTION:.0%} of the initial load's time)",
        "",
    ]
    lines += table(
        ["rows", "updated", "deleted", "sync s", "initial load s", "fraction", "sync RSS MB", "no-change sync s"],
        [
            [
                s["rows"],
                s["runs"][0]["updated"],
                s["runs"][0]["deleted"],
                s["incremental_seconds_median"],
                s["initial_load_seconds"],
                f"{s['fraction_of_load']:.1%}",
                s["incremental_peak_rss_mb"],
                s["idle_sync_seconds"],
            ]
            for s in sizes
        ],
    )
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        lines += [
            "",
            f"growth {first['rows']:,} -> {last['rows']:,} rows: incremental time "
            f"x{last['incremental_seconds_median'] / first['incremental_seconds_median']:.2f}",
        ]
    lines.append(
        "per run (s): " + "; ".join(f"{s['rows']:,}: " + ", ".join(str(r["seconds"]) for r in s["runs"]) for s in sizes)
    )
    return "\n".join(lines)
