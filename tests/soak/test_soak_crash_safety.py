"""Crash safety at full size: 20 SIGKILLs (full load, incremental, view apply) on 300,000 rows, re-run each time."""

from __future__ import annotations

import pytest

from tests.support.emulators import start_emulator

from ..reliability.test_crash_safety import PHASES, crash_rounds_converge

SOAK_ROWS = {"Employee": 75000, "EmployeeCrisisAssessment": 40000, "Account": 10000, "Contact": 25000}  # x 2 = 300,000


@pytest.mark.timeout(4 * 3600)
def test_sync_and_views_apply_killed_at_twenty_random_points_on_300k_rows_converge(engine, database_url, tmp_path):
    emu = start_emulator(SOAK_ROWS, seed=77)
    try:
        log = crash_rounds_converge(emu, engine, database_url, tmp_path, kill_points=20, seed=20261122, parity_every=5)
    finally:
        emu.stop()
    print("\n".join(f"round {n + 1:2}: {phase:11} {where}" for n, (phase, where) in enumerate(log.rounds)))
    killed = [where for _, where in log.rounds if where.startswith("killed")]
    assert len(killed) >= 18, log.rounds
    assert {phase for phase, _ in log.rounds} == set(PHASES)
