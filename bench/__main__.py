"""`python -m bench load|incremental|serve|emulator|freshness|all [--rows N ...]`: run benchmarks, write JSON.

One `--rows N` above 100,000 measures 100,000 and N (how the figures grow); repeat `--rows` to
choose the sizes exactly. `all` runs every benchmark, then prints the targets met and missed
(bench/summary.py), writes one JSON file per benchmark plus all.json, and the README's
Performance section as README-performance.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench import harness

BENCHMARKS = {
    "emulator": "bench.emulator",
    "load": "bench.load",
    "incremental": "bench.incremental",
    "serve": "bench.serve",
    "freshness": "bench.freshness",  # run on its own: `all` keeps the figures issue 8 targets
}
ORDER = ("emulator", "load", "incremental", "serve")
RESULTS = Path(__file__).parent / "results"
BASELINE_ROWS = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", choices=[*sorted(BENCHMARKS), "all"])
    parser.add_argument(
        "--rows", type=int, action="append", help="data size (repeatable); each benchmark has its own defaults"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per size; medians are reported")
    parser.add_argument(
        "--out",
        type=Path,
        help="where the JSON goes: a file for one benchmark, a directory for all "
        f"(default {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS})",
    )
    parser.add_argument(
        "--database-url",
        help="an admin URL of the PostgreSQL server to create databases on "
        "(default $BENCH_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/postgres)",
    )
    parser.add_argument("--embedded", action="store_true", help="use a throw-away embedded PostgreSQL instead")
    options = parser.parse_args(argv)
    with ExitStack() as stack:
        if options.embedded:
            harness.use_server(stack.enter_context(harness.embedded_server()))
        elif options.database_url:
            harness.use_server(options.database_url)
        return _main(options, argv)


def _main(options: argparse.Namespace, argv: list[str] | None) -> int:
    sizes = _sizes(options.rows)
    if options.name != "all":
        report = _run(options.name, sizes, options.runs)
        path = options.out or RESULTS / f"{options.name}.json"
        _write(path, report)
        return 0
    from bench.performance import render_markdown
    from bench.summary import machine_report, render_summary

    directory = options.out or RESULTS
    started = time.monotonic()
    reports = {"machine": machine_report(), "command": "python -m bench " + " ".join(argv or sys.argv[1:])}
    for name in ORDER:
        reports[name] = _run(name, sizes, options.runs)
        _write(directory / f"{name}.json", reports[name])
    reports["seconds"] = round(time.monotonic() - started, 1)
    text = render_summary(reports)
    print("\n" + text)
    reports["summary"] = text
    _write(directory / "all.json", reports)
    markdown = directory / "README-performance.md"
    markdown.write_text(render_markdown(reports))
    print(f"wrote {markdown}")
    return 0


def _sizes(rows: list[int] | None) -> list[int] | None:
    if rows and len(rows) == 1 and rows[0] > BASELINE_ROWS:
        return [BASELINE_ROWS, rows[0]]
    return rows


def _run(name: str, sizes: list[int] | None, runs: int) -> dict:
    module = importlib.import_module(BENCHMARKS[name])
    started = time.monotonic()
    report = module.run(sizes or module.DEFAULT_ROWS, runs)
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    print(module.render(report) + "\n", flush=True)
    return report


def _write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
