"""`python -m bench load|incremental|serve|emulator|all [--rows N ...]`: run benchmarks, print their tables, write JSON.

One `--rows N` above 100,000 measures 100,000 and N (how the figures grow); repeat `--rows` to
choose the sizes exactly. `all` runs every benchmark, then prints the targets met and missed
(bench/summary.py) and writes one JSON file per benchmark plus all.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

BENCHMARKS = {"emulator": "bench.emulator", "load": "bench.load", "incremental": "bench.incremental",
              "serve": "bench.serve"}
ORDER = ("emulator", "load", "incremental", "serve")
RESULTS = Path(__file__).parent / "results"
BASELINE_ROWS = 100_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=[*sorted(BENCHMARKS), "all"])
    parser.add_argument("--rows", type=int, action="append",
                        help="data size (repeatable); each benchmark has its own defaults")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; medians are reported")
    parser.add_argument("--out", type=Path,
                        help="where the JSON goes: a file for one benchmark, a directory for all "
                             f"(default {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS})")
    options = parser.parse_args(argv)
    sizes = _sizes(options.rows)
    if options.name != "all":
        report = _run(options.name, sizes, options.runs)
        path = options.out or RESULTS / f"{options.name}.json"
        _write(path, report)
        return 0
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
