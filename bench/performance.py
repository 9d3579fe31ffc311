"""The README's "Performance" section as Markdown, from the reports `python -m bench all` just printed."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.summary import targets


def render_markdown(reports: dict) -> str:
    host = reports["machine"]
    load, incremental, serve, emulator = (
        reports[name]["sizes"] for name in ("load", "incremental", "serve", "emulator")
    )
    lines = [
        "## Performance",
        "",
        f"Measured by `{reports['command']}` ({reports['seconds'] / 60:.0f} minutes) on "
        f"{datetime.now(UTC):%Y-%m-%d}: {host['cpu']}, {host['cores']} cores shared with other work, "
        f"{host['memory_gb']} GB RAM, PostgreSQL {host['postgresql'].split(' ')[0]} on the same machine, "
        f"Python {host['python']}. Each figure is the median of {len(load[0]['runs'])} runs and is compared with "
        "a bound measured in the same run on the same data (a bare `COPY` for loading, an in-process psycopg "
        "fetch encoded with orjson for serving), because absolute times on a shared machine are noise. "
        "The emulator, `orgfeed sync` and gunicorn each run in their own process; peak RSS is each "
        "process's own high-water mark. Results are written to `bench/results/*.json`.",
        "",
        "| target | figure | against | met |",
        "|---|---:|---|:---:|",
    ]
    lines += [
        f"| {target} | {figure} | {against} | {'yes' if met else '**no**'} |"
        for target, figure, against, met in targets(reports)
    ]
    lines += [
        "",
        '**Initial load** (`orgfeed sync`, Employee with `fields = "*"`: 42 columns from two emulated orgs '
        "over Bulk API 2.0 and HTTPS into fresh schemas, shadow table, indexes and swap included; the bound "
        "COPYs the same CSV with the loader's COPY options into a table like the loader's, both orgs at once):",
        "",
        "| rows | loader | bare COPY | × bound | loader rows/s | loader peak RSS | loader CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s['rows']:,} | {s['loader_seconds_median']:.2f} s | {s['bound_seconds_median']:.2f} s | "
        f"{s['ratio_to_bound']} | {s['loader_rows_per_second']:,} | {s['loader_peak_rss_mb']:.0f} MB | "
        f"{s['loader_cpu_seconds_median']:.1f} s |"
        for s in load
    ]
    lines += [
        "",
        "**Incremental sync** (1 % of the rows updated and 0.1 % deleted in the orgs, then `orgfeed sync`):",
        "",
        "| rows | updated | deleted | sync | initial load | share of the load | peak RSS | no-change sync |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s['rows']:,} | {s['runs'][0]['updated']:,} | {s['runs'][0]['deleted']:,} | "
        f"{s['incremental_seconds_median']:.2f} s | {s['initial_load_seconds']:.2f} s | "
        f"{s['fraction_of_load']:.1%} | {s['incremental_peak_rss_mb']:.0f} MB | {s['idle_sync_seconds']:.2f} s |"
        for s in incremental
    ]
    lines += [
        "",
        f"**Serving** the union view `{reports['serve']['view']}` ({len(reports['serve']['columns'])} columns, "
        '`indexed = ["lastname"]`) through gunicorn started as the Procfile\'s `web:` line:',
        "",
        "| rows | scan rows/s (2,000-row pages) | bound rows/s | share | first page p50 / p99 | "
        "`id eq` p50 / p99 | key segment p50 / p99 | gunicorn peak RSS (largest process) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in serve:
        rss = s["server_peak_rss_mb"]
        lines.append(
            f"| {s['rows']:,} | {s['scan']['rows_per_second_median']:,.0f} | "
            f"{s['scan']['bound_rows_per_second_median']:,.0f} | {s['scan']['fraction_of_bound']:.0%} | "
            f"{s['first_page']['p50_ms']:.0f} / {s['first_page']['p99_ms']:.0f} ms | "
            f"{s['lookup_filter']['p50_ms']:.1f} / {s['lookup_filter']['p99_ms']:.1f} ms | "
            f"{s['lookup_key']['p50_ms']:.1f} / {s['lookup_key']['p99_ms']:.1f} ms | "
            f"{max([rss['master_mb'], *rss['workers_mb']]):.0f} MB |"
        )
    mix = ", ".join(f"{name} {weight}" for name, weight in reports["serve"]["sizes"][0]["replay"]["mix"].items())
    lines += [
        "",
        f"{reports['serve']['clients']} concurrent clients replaying Salesforce Connect's requests for "
        f"{reports['serve']['replay_seconds']:g} s (weights: {mix}):",
        "",
        "| rows | requests | errors | requests/s | p50 | p99 | "
        "list p99 | filtered list p99 | detail p99 | search p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in serve:
        replay, shapes = s["replay"], s["replay"]["per_shape"]
        per = [
            f"{shapes[name]['p99_ms']:,.0f} ms" if name in shapes else "-"
            for name in ("list", "filtered_list", "detail", "search")
        ]
        lines.append(
            f"| {s['rows']:,} | {replay['requests']:,} | {replay['errors']} | {replay['requests_per_second']} | "
            f"{replay['p50_ms']:,.0f} ms | {replay['p99_ms']:,.0f} ms | " + " | ".join(per) + " |"
        )
    lines += [
        "",
        "**Emulator** (Bulk API 2.0 results over HTTPS, the loader's projection; warm = rendered at startup):",
        "",
        "| rows | mode | download rows/s | MB/s | end-to-end rows/s | peak RSS |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s['rows']:,} | {s['mode']} | "
        f"{s['download_rows_per_second_median']:,} | {s['download_mb_per_second_median']} | "
        f"{s['end_to_end_rows_per_second_median']:,} | {s['emulator_peak_rss_mb']:.0f} MB |"
        for s in emulator
    ]
    lines += [
        "",
        f"Reproduce with `{reports['command']}` (about {reports['seconds'] / 60:.0f} minutes; "
        "`--rows 20000` takes a minute or two; `python -m bench load|incremental|serve|emulator` runs one).",
    ]
    return "\n".join(lines) + "\n"
