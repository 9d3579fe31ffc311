"""Bulk API 2.0 result serving of `orgfeed emulator`: Employee rows per second over HTTPS.

For each size, the emulator runs in its own process exactly as `orgfeed emulator --rows N/2`
serves it (the rows split over the two demo orgs). Each run creates a queryAll job per org over
every Employee field Bulk can select (in the loader's order), polls it to JobComplete, and downloads every result page
(`maxRecords` 50,000, following `Sforce-Locator` to `null`) through requests over HTTPS, as the
loader does. The first run renders the CSV while the job is InProgress (as Salesforce prepares
result files); later runs of the same projection reuse it. Reported: download rows/s and MB/s
(median of runs), end-to-end rows/s from job creation to the `null` locator, job processing
time, and the emulator process's peak RSS. The target is 200,000 rows/s downloaded.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench.extraction import measure_extraction, render_extraction
from bench.harness import loader_fields

DEFAULT_ROWS = [100_000, 1_000_000]
TARGET_ROWS_PER_SECOND = 200_000
MAX_RECORDS = 50_000
API = "62.0"
SERVE = (
    "from app.emulator.serve import serve_emulator; import sys; "
    "serve_emulator(port=0, rows=int(sys.argv[1]), json_output=True, warm=sys.argv[2] == 'warm')"
)


def run(sizes: list[int], runs: int) -> dict[str, object]:
    """Measure each size twice: as `orgfeed emulator` starts (warm: CSV rendered before serving),
    and cold (every first job renders its CSV while the download streams it); then the loader's
    extraction on the smallest size (bench/extraction.py)."""
    return {
        "benchmark": "emulator",
        "target_rows_per_second": TARGET_ROWS_PER_SECOND,
        "max_records": MAX_RECORDS,
        "sizes": [_measure_size(rows, runs, mode) for rows in sizes for mode in ("warm", "cold")],
        "extraction": measure_extraction(min(sizes) // 2, runs),
    }


def _measure_size(rows: int, runs: int, mode: str) -> dict[str, object]:
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(rows // 2), mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    try:
        summary = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        startup = time.monotonic() - started
        session = requests.Session()
        session.verify = summary["ca_bundle"]
        session.trust_env = False
        tokens = [_token(session, summary["base_url"], org) for org in summary["orgs"]]
        # each org has its own custom fields, so each gets its own field list
        queries = [
            f"SELECT {', '.join(_bulk_fields(session, summary['base_url'], token))} FROM Employee" for token in tokens
        ]
        fields = _bulk_fields(session, summary["base_url"], tokens[0])
        measured = [_one_run(session, summary["base_url"], tokens, queries) for _ in range(runs)]
        peak_rss = _peak_rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        process.stdout.close()  # type: ignore[union-attr]
    download = [m["rows"] / m["download_seconds"] for m in measured]
    end_to_end = [m["rows"] / m["total_seconds"] for m in measured]
    return {
        "rows": rows,
        "mode": mode,
        "fields": len(fields),
        "startup_seconds": round(startup, 2),
        "runs": measured,
        "download_rows_per_second_median": round(statistics.median(download)),
        "download_mb_per_second_median": round(
            statistics.median(m["bytes"] / m["download_seconds"] / 1e6 for m in measured), 1
        ),
        "end_to_end_rows_per_second_median": round(statistics.median(end_to_end)),
        "cold_end_to_end_rows_per_second": round(end_to_end[0]),
        "ratio_to_target": round(statistics.median(download) / TARGET_ROWS_PER_SECOND, 2),
        "emulator_peak_rss_mb": peak_rss,
    }


def _token(session: requests.Session, base_url: str, org: dict) -> str:
    response = session.post(
        f"{base_url}/services/oauth2/token", data={"grant_type": "client_credentials", **org["client_credentials"]}
    )
    response.raise_for_status()
    return response.json()["access_token"]


def _bulk_fields(session: requests.Session, base_url: str, token: str) -> list[str]:
    described = session.get(
        f"{base_url}/services/data/v{API}/sobjects/Employee/describe", headers={"Authorization": f"Bearer {token}"}
    ).json()
    # Bulk API 2.0 cannot select compound or base64 fields; the loader selects the rest, in its order.
    return loader_fields(described)


def _one_run(session: requests.Session, base_url: str, tokens: list[str], queries: list[str]) -> dict[str, float]:
    totals = {"rows": 0, "bytes": 0, "processing_seconds": 0.0, "download_seconds": 0.0, "total_seconds": 0.0}
    for token, soql in zip(tokens, queries):
        headers = {"Authorization": f"Bearer {token}"}
        jobs = f"{base_url}/services/data/v{API}/jobs/query"
        started = time.perf_counter()
        created = session.post(jobs, json={"operation": "queryAll", "query": soql}, headers=headers)
        created.raise_for_status()
        job = created.json()
        while session.get(f"{jobs}/{job['id']}", headers=headers).json()["state"] != "JobComplete":
            time.sleep(0.02)
        ready = time.perf_counter()
        locator = None
        while locator != "null":
            params = {"maxRecords": MAX_RECORDS, **({"locator": locator} if locator else {})}
            with session.get(f"{jobs}/{job['id']}/results", params=params, headers=headers, stream=True) as response:
                response.raise_for_status()
                for chunk in response.iter_content(1 << 20):
                    totals["bytes"] += len(chunk)
                totals["rows"] += int(response.headers["Sforce-NumberOfRecords"])
                locator = response.headers["Sforce-Locator"]
        done = time.perf_counter()
        session.delete(f"{jobs}/{job['id']}", headers=headers)
        totals["processing_seconds"] += ready - started
        totals["download_seconds"] += done - ready
        totals["total_seconds"] += done - started
    return {key: round(value, 3) if isinstance(value, float) else value for key, value in totals.items()}


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def render(report: dict[str, object]) -> str:
    title = (
        f"Bulk API 2.0 results from the emulator (queryAll, all Employee fields, maxRecords "
        f"{report['max_records']}, HTTPS via requests; target {TARGET_ROWS_PER_SECOND:,} rows/s)"
    )
    header = (
        f"{'rows':>10} {'mode':>5} {'fields':>6} {'download rows/s':>16} {'MB/s':>7} {'x target':>8} "
        f"{'end-to-end rows/s':>18} {'cold e2e rows/s':>16} {'peak RSS MB':>12} {'start s':>8}"
    )
    lines = [title, "", header]
    for size in report["sizes"]:  # type: ignore[union-attr]
        lines.append(
            f"{size['rows']:>10,} {size['mode']:>5} {size['fields']:>6} "
            f"{size['download_rows_per_second_median']:>16,} "
            f"{size['download_mb_per_second_median']:>7} {size['ratio_to_target']:>8} "
            f"{size['end_to_end_rows_per_second_median']:>18,} "
            f"{size['cold_end_to_end_rows_per_second']:>16,} {size['emulator_peak_rss_mb']:>12} "
            f"{size['startup_seconds']:>8}"
        )
    lines += ["", "per run (rows, processing s, download s):"]
    for size in report["sizes"]:  # type: ignore[union-attr]
        runs = "; ".join(
            f"{r['rows']:,} rows, {r['processing_seconds']} s, {r['download_seconds']} s" for r in size["runs"]
        )
        lines.append(f"  {size['rows']:>10,} {size['mode']}: {runs}")
    if "extraction" in report:
        lines += ["", *render_extraction(report["extraction"])]  # type: ignore[arg-type]
    lines.append(f"\nmachine: {os.cpu_count()} cores")
    return "\n".join(lines)
