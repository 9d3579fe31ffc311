"""The closing table of `python -m bench all`: each target of issue 8, its figure at the largest size, met or not."""

from __future__ import annotations

import contextlib
import subprocess

from bench.harness import machine, table

RSS_FLAT = 1.25  # "not growing with N": at most 25 % more peak RSS for 10x the rows


def machine_report() -> dict[str, object]:
    """The machine: CPU model, cores, memory (`free -h`), PostgreSQL and Python versions."""
    report = machine()
    with contextlib.suppress(OSError, IndexError):
        report["free_h"] = subprocess.run(
            ["free", "-h"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[1]
    return report


def targets(reports: dict) -> list[list[object]]:
    """[target, figure, bound or limit, met] rows for the largest size of each benchmark."""
    rows = []
    load = reports["load"]["sizes"]
    first, last = load[0], load[-1]
    rows.append(
        [
            f"load {last['rows']:,}: loader time <= 2x bare COPY",
            f"{last['ratio_to_bound']}x",
            f"{last['loader_seconds_median']} s vs {last['bound_seconds_median']} s",
            last["ratio_to_bound"] <= 2,
        ]
    )
    rows.append(
        [
            f"load {last['rows']:,}: loader peak RSS <= 300 MB",
            f"{last['loader_peak_rss_mb']} MB",
            "300 MB",
            last["loader_peak_rss_mb"] <= 300,
        ]
    )
    if len(load) > 1:
        grown = last["loader_peak_rss_mb"] / first["loader_peak_rss_mb"]
        rows.append(
            [
                f"load: peak RSS flat {first['rows']:,} -> {last['rows']:,}",
                f"x{grown:.2f}",
                f"<= x{RSS_FLAT}",
                grown <= RSS_FLAT,
            ]
        )
    incremental = reports["incremental"]["sizes"][-1]
    rows.append(
        [
            f"incremental {incremental['rows']:,}: <= 5 % of the initial load",
            f"{incremental['fraction_of_load']:.1%}",
            f"{incremental['incremental_seconds_median']} s vs {incremental['initial_load_seconds']} s",
            incremental["fraction_of_load"] <= 0.05,
        ]
    )
    serve = reports["serve"]["sizes"][-1]
    scan = serve["scan"]
    rows.append(
        [
            f"serve {serve['rows']:,} (a): scan >= 50 % of psycopg+orjson",
            f"{scan['fraction_of_bound']:.1%}",
            f"{scan['rows_per_second_median']:,} vs {scan['bound_rows_per_second_median']:,} rows/s",
            scan["fraction_of_bound"] >= 0.5,
        ]
    )
    rows.append(
        [
            f"serve {serve['rows']:,} (b): first page p50 <= 150 ms",
            f"{serve['first_page']['p50_ms']} ms",
            f"p99 {serve['first_page']['p99_ms']} ms",
            serve["first_page"]["p50_ms"] <= 150,
        ]
    )
    for key, label in (("lookup_filter", "$filter=id eq"), ("lookup_key", "key segment")):
        rows.append(
            [
                f"serve {serve['rows']:,} (c): {label} p99 <= 7 ms",
                f"{serve[key]['p99_ms']} ms",
                f"p50 {serve[key]['p50_ms']} ms",
                serve[key]["p99_ms"] <= 7,
            ]
        )
    replay = serve["replay"]
    rows.append(
        [
            f"serve {serve['rows']:,} (d): {reports['serve']['clients']} clients, 0 errors",
            f"{replay['errors']} errors",
            f"{replay['requests_per_second']} req/s, p99 {replay['p99_ms']} ms",
            replay["errors"] == 0,
        ]
    )
    emulator = [size for size in reports["emulator"]["sizes"] if size["mode"] == "warm"][-1]
    ratio = emulator["download_rows_per_second_median"] / last["loader_rows_per_second"]
    rows.append(
        [
            f"emulator {emulator['rows']:,}: Bulk serving >= 3x loader ingest",
            f"{ratio:.1f}x",
            f"{emulator['download_rows_per_second_median']:,} vs {last['loader_rows_per_second']:,} rows/s",
            ratio >= 3,
        ]
    )
    return rows


def render_summary(reports: dict) -> str:
    host = reports["machine"]
    lines = [
        f"Targets (issue 8), measured by `{reports['command']}` in {reports['seconds'] / 60:.1f} min on "
        f"{host['cpu']}, {host['cores']} cores, {host['memory_gb']} GB, PostgreSQL {host['postgresql']}",
        "",
    ]
    lines += table(["target", "figure", "against", "met"], targets(reports))
    return "\n".join(lines)
