"""Smoke test of `python -m bench`: every benchmark runs end to end at a tiny size and writes the JSON it promises.

Speed is never asserted here (benchmarks are programs, not timed tests); only that each one
runs, checks what it loaded, and reports the figures the README's Performance section quotes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
ROWS = 2000


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_benchmark_runs_at_a_tiny_size_and_writes_its_figures(server_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_REPLAY_SECONDS": "2"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "all",
            "--rows",
            str(ROWS),
            "--runs",
            "1",
            "--database-url",
            server_url,
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Targets (issue 8)" in done.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "README-performance.md",
        "all.json",
        "emulator.json",
        "incremental.json",
        "load.json",
        "serve.json",
    ]
    assert "## Performance" in (tmp_path / "README-performance.md").read_text()

    load = json.loads((tmp_path / "load.json").read_text())["sizes"]
    assert [size["rows"] for size in load] == [ROWS]
    assert load[0]["runs"][0]["rows_loaded"] == ROWS
    assert {
        "loader_seconds_median",
        "bound_seconds_median",
        "ratio_to_bound",
        "loader_peak_rss_mb",
        "loader_rows_per_second",
        "bound_rows_per_second",
        "emulator_peak_rss_mb",
    } <= load[0].keys()

    incremental = json.loads((tmp_path / "incremental.json").read_text())["sizes"][0]
    assert (incremental["runs"][0]["updated"], incremental["runs"][0]["deleted"]) == (ROWS // 100, 2)
    assert {
        "incremental_seconds_median",
        "initial_load_seconds",
        "fraction_of_load",
        "incremental_peak_rss_mb",
    } <= incremental.keys()

    serve = json.loads((tmp_path / "serve.json").read_text())["sizes"][0]
    assert serve["view_rows"] == ROWS
    assert serve["scan"]["runs"][0]["rows"] == serve["scan"]["bound_runs"][0]["rows"] == ROWS
    assert {"rows_per_second_median", "bound_rows_per_second_median", "fraction_of_bound"} <= serve["scan"].keys()
    for figure in ("first_page", "lookup_filter", "lookup_key", "replay"):
        assert {"p50_ms", "p99_ms"} <= serve[figure].keys()
    assert serve["replay"]["errors"] == 0, serve["replay"]["error_samples"]
    assert serve["replay"]["requests"] > 0
    assert serve["server_peak_rss_mb"]["workers_mb"]

    emulator = json.loads((tmp_path / "emulator.json").read_text())["sizes"]
    assert [(size["rows"], size["mode"]) for size in emulator] == [(ROWS, "warm"), (ROWS, "cold")]

    everything = json.loads((tmp_path / "all.json").read_text())
    assert {"machine", "command", "emulator", "load", "incremental", "serve", "summary"} <= everything.keys()
    assert {"cpu", "cores", "memory_gb", "postgresql"} <= everything["machine"].keys()
