"""`python -m bench <name> [--rows N ...]`: run one benchmark, print its table, write its JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

BENCHMARKS = {"emulator": "bench.emulator"}
RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--rows", type=int, action="append",
                        help="data size (repeatable); each benchmark has its own defaults")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; medians are reported")
    options = parser.parse_args(argv)
    module = importlib.import_module(BENCHMARKS[options.name])
    report = module.run(options.rows or module.DEFAULT_ROWS, options.runs)
    print(module.render(report))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{options.name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
