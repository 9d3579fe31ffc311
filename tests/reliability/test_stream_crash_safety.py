"""Crash safety while streaming: `orgfeed sync --watch` SIGKILLed at random points while change events flow, then
restarted, ends in exact parity with the emulator: no change lost, none applied twice out of order.

The safety-net poll is an hour away (poll_seconds = 3600) and a restarted worker resumes each stream from
its committed replay id without polling first, so parity here comes from the change events alone.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from app.emulator.emulator import Emulator
from tests.support.configs import write_config
from tests.support.emulators import start_emulator
from tests.support.parity import assert_committed_state_is_consistent, assert_parity
from tests.support.processes import ORGFEED, ROOT

ROWS = {"Employee": 400, "EmployeeCrisisAssessment": 10, "Account": 10, "Contact": 10}
ROUNDS = 5


def streaming_config(emu: Emulator, directory: Path, database_url: str) -> dict[str, str]:
    assert emu.pubsub is not None
    config, env = write_config(emu, directory, database_url, objects=("Employee",))
    body = config.read_text()
    body = body.replace('ca_bundle = "', f'stream = true\npubsub_url = "{emu.pubsub.url}"\nca_bundle = "')
    body = body.replace('fields = "*"\n', 'fields = "*"\npoll_seconds = 3600\n')
    config.write_text(body)
    return env


def change_continuously(emu: Emulator, chance: random.Random, stop: threading.Event, counter: list[int]) -> None:
    """Updates, deletes, undeletes and inserts Employee records in both orgs until `stop` is set."""
    while not stop.is_set():
        org = chance.choice(("amer", "emea"))
        ids = emu.ids(org, "Employee")
        kind = chance.random()
        if kind < 0.6:
            picked = chance.sample(ids, chance.randint(1, 3))
            emu.update(org, "Employee", [{"Id": i, "Title": f"T{counter[0]}", "Department": None} for i in picked])
        elif kind < 0.75:
            emu.delete(org, "Employee", [chance.choice(ids)])
        elif kind < 0.85:
            deleted = [emu.table(org, "Employee").record_id(row) for row in emu.table(org, "Employee").recycle_bin]
            if deleted:
                emu.undelete(org, "Employee", [chance.choice(deleted)])
        else:
            template = emu.table(org, "Employee").view(0)
            values = {name: template[name] for name in ("Email", "EmployeeStatus")}
            emu.insert(
                org, "Employee", [{**values, "LastName": f"New {counter[0]}", "EmployeeNumber": f"S{counter[0]}"}]
            )
        counter[0] += 1
        time.sleep(chance.uniform(0, 0.02))


def streams_running(engine) -> bool:
    with engine.connect() as conn:
        states = conn.execute(text("select state from orgfeed.streams")).scalars().all()
    return len(states) == 2 and all(state == "streaming" for state in states)


def sync_runs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select count(*) from orgfeed.sync_runs")).scalar_one()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def in_parity(emu: Emulator, engine) -> bool:
    try:
        for org in ("amer", "emea"):
            assert_parity(emu, engine, org, "Employee")
    except AssertionError:
        return False
    return True


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [*ORGFEED, "sync", "--watch", "--json"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@pytest.mark.slow
def test_streaming_worker_killed_at_random_points_converges_to_exact_parity(engine, database_url, tmp_path):
    emu = start_emulator(ROWS, seed=31)
    assert emu.pubsub is not None
    emu.pubsub.service.keepalive_seconds = 0.5
    chance = random.Random(913)
    env = streaming_config(emu, tmp_path, database_url)
    worker = start_worker(env)
    try:
        wait_until(lambda: streams_running(engine), 120, "the first load and both streams")
        polls_before = sync_runs(engine)  # the first load, and each stream's catch-up poll after subscribing
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        counter = [0]
        for _ in range(ROUNDS):
            worker = start_worker(env)
            stop = threading.Event()
            changer = threading.Thread(target=change_continuously, args=(emu, chance, stop, counter), daemon=True)
            changer.start()
            time.sleep(chance.uniform(1.5, 6.0))  # lands in startup, a subscription, a batch's transaction, or idle
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            stop.set()
            changer.join(10)
            assert_committed_state_is_consistent(engine)
        worker = start_worker(env)
        wait_until(lambda: in_parity(emu, engine), 90, "exact parity from the change events")
        assert sync_runs(engine) == polls_before, "a restart polled: it should resume from its replay ids"
        assert counter[0] > 50
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        emu.stop()
