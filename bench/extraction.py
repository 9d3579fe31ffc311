"""The loader's extraction against the emulator: REST pages, Bulk API 2.0 pages and single calls, per second.

Part of `python -m bench emulator`. The emulator runs in its own process as `orgfeed emulator`
serves it; the loader's own client (app.salesforce: OrgClient over one requests session, as a
sync uses it) reads Employee from both orgs: REST `queryAll` pages of 2,000 and of 200 records
(iter_query_pages), a Bulk API 2.0 queryAll job (iter_bulk_pages, every page read to the end),
and 200 `GET limits` calls (the shape of describe, polls and small incremental queries). Each
figure is the median of the runs. Every request but the first on a connection pays no TCP and
TLS handshake when the server keeps connections alive, so comparing these figures before and
after a server change measures what the change did to extraction.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from app.config import OrgConfig
from app.salesforce.bulk import iter_bulk_pages
from app.salesforce.client import OrgClient
from app.salesforce.extract import iter_query_pages
from bench.harness import loader_fields

SERVE = (
    "from app.emulator.serve import serve_emulator; import sys; "
    "serve_emulator(port=0, rows=int(sys.argv[1]), json_output=True, warm=True)"
)
MAX_ROWS_PER_ORG = 10_000  # REST renders a few thousand records/s on a busy machine: more only adds minutes
SINGLE_CALLS = 200


def measure_extraction(rows_per_org: int, runs: int) -> dict[str, object]:
    """Serve `rows_per_org` Employee rows per org and time the loader's extraction `runs` times."""
    rows_per_org = min(rows_per_org, MAX_ROWS_PER_ORG)
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(rows_per_org)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    try:
        summary = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        clients = [OrgClient(_org_config(org, summary["ca_bundle"])) for org in summary["orgs"]]
        queries = [_loader_query(client) for client in clients]
        measured = [_one_run(clients, queries) for _ in range(runs)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        process.stdout.close()  # type: ignore[union-attr]
    report: dict[str, object] = {"rows_per_org": rows_per_org, "orgs": len(summary["orgs"]), "runs": measured}
    for key in ("rest_2000", "rest_200", "bulk"):
        report[f"{key}_rows_per_second_median"] = round(
            statistics.median(m["rows"] / m[f"{key}_seconds"] for m in measured)  # type: ignore[operator]
        )
    report["single_call_ms_median"] = round(statistics.median(m["single_call_ms"] for m in measured), 2)  # type: ignore[misc]
    return report


def _org_config(org: dict, ca_bundle: str) -> OrgConfig:
    return OrgConfig(
        name=org["name"],
        geo=org["geo"],
        auth="client_credentials",
        login_url=org["login_url"],
        ca_bundle=Path(ca_bundle),
        secret_envs={"client_id": "CLIENT_ID", "client_secret": "CLIENT_SECRET"},
        secrets=dict(org["client_credentials"]),
    )


def _loader_query(client: OrgClient) -> tuple[str, list[str]]:
    described, _ = client.request_json("describe", "GET", "sobjects/Employee/describe")
    fields = loader_fields(described)
    return f"SELECT {', '.join(fields)} FROM Employee", fields


def _one_run(clients: list[OrgClient], queries: list[tuple[str, list[str]]]) -> dict[str, float]:
    totals = {"rows": 0.0, "rest_2000_seconds": 0.0, "rest_200_seconds": 0.0, "bulk_seconds": 0.0}
    single: list[float] = []
    for client, (soql, fields) in zip(clients, queries):
        for key, batch_size in (("rest_2000", 2000), ("rest_200", 200)):
            started = time.perf_counter()
            rows = sum(
                page.rows
                for page in iter_query_pages(client, soql, fields, include_deleted=True, batch_size=batch_size)
            )
            totals[f"{key}_seconds"] += time.perf_counter() - started
        started = time.perf_counter()
        for page in iter_bulk_pages(client, soql, include_deleted=True, poll_seconds=0.05):
            for _ in page.open():
                pass
        totals["bulk_seconds"] += time.perf_counter() - started
        totals["rows"] += rows
        for _ in range(SINGLE_CALLS // len(clients)):
            started = time.perf_counter()
            client.request("limits", "GET", "limits")
            single.append(time.perf_counter() - started)
    result = {key: round(value, 3) for key, value in totals.items()}
    result["single_call_ms"] = round(statistics.median(single) * 1000, 2)
    return result


def render_extraction(report: dict) -> list[str]:
    """The table lines for `python -m bench emulator`."""
    rows = report["rows_per_org"] * report["orgs"]
    return [
        f"Loader extraction (app.salesforce over HTTPS, Employee, {rows:,} rows in {report['orgs']} orgs):",
        "",
        f"{'REST 2000/page rows/s':>22} {'REST 200/page rows/s':>21} {'Bulk 2.0 rows/s':>16} {'one call ms':>12}",
        f"{report['rest_2000_rows_per_second_median']:>22,} {report['rest_200_rows_per_second_median']:>21,} "
        f"{report['bulk_rows_per_second_median']:>16,} {report['single_call_ms_median']:>12}",
    ]
