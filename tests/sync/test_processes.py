"""`orgfeed sync` as real processes: concurrent runs, SIGKILL at random points, SIGTERM."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from app.emulator.demo.orgs import demo_orgs
from app.emulator.emulator import Emulator
from tests.support.configs import OBJECTS, write_config
from tests.support.parity import assert_every_object_in_parity

SYNC = [sys.executable, "-m", "app", "sync", "--json"]


@pytest.fixture
def big_emulator():
    emu = Emulator(
        demo_orgs(rows={"Employee": 6000, "EmployeeCrisisAssessment": 3000, "Account": 400, "Contact": 800}, seed=23)
    ).start()
    try:
        yield emu
    finally:
        emu.stop()


def run_sync_process(env, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([*SYNC, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_sync_prints_json_lines_and_a_summary_and_exits_0(emulator, engine, database_url, tmp_path):
    _, env = write_config(emulator, tmp_path, database_url)
    result = run_sync_process(env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["ok"] is True
    assert sorted((item["org"], item["object"], item["status"]) for item in summary["objects"]) == sorted(
        (org, sobject, "succeeded") for org in ("amer", "emea") for sobject in OBJECTS
    )
    assert {line["event"] for line in lines[:-1]} >= {"start", "rows", "finish"}
    assert_every_object_in_parity(emulator, engine)


def test_sync_exits_1_when_an_org_fails(emulator, engine, database_url, tmp_path):
    _, env = write_config(emulator, tmp_path, database_url)
    env["AMER_CLIENT_SECRET"] = "wrong"
    result = run_sync_process(env)
    assert result.returncode == 1
    summary = json.loads(result.stdout.splitlines()[-1])
    assert {(item["org"], item["status"]) for item in summary["objects"]} == {("amer", "failed"), ("emea", "succeeded")}


def test_two_concurrent_syncs_reach_the_same_end_state_as_one(big_emulator, engine, database_url, tmp_path):
    _, env = write_config(big_emulator, tmp_path, database_url, bulk_threshold=1000)
    first = subprocess.Popen(SYNC, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(SYNC, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    summaries = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    locked = [{(o["org"], o["object"]) for o in summary["objects"] if o["status"] == "locked"} for summary in summaries]
    # A run that found objects held by the other says so: exit status 75, never 0.
    assert [process.returncode for process in (first, second)] == [75 if held else 0 for held in locked], [
        err for _, err in outputs
    ]
    for summary in summaries:
        assert {o["status"] for o in summary["objects"]} <= {"succeeded", "locked"}, summary
    for held, other in ((locked[0], summaries[1]), (locked[1], summaries[0])):  # each held object: synced by the other
        assert held <= {(o["org"], o["object"]) for o in other["objects"] if o["status"] == "succeeded"}
    assert_every_object_in_parity(big_emulator, engine)
    done = [
        (item["org"], item["object"])
        for summary in summaries
        for item in summary["objects"]
        if item["status"] == "succeeded" and item["mode"] == "full"
    ]
    assert sorted(set(done)) == sorted(done), "an object was fully loaded by both processes at once"


@pytest.mark.slow
def test_sync_killed_at_random_points_converges_to_exact_parity(big_emulator, engine, database_url, tmp_path):
    _, env = write_config(big_emulator, tmp_path, database_url, bulk_threshold=1000)
    chance = random.Random(4242)
    for round_number in range(6):
        process = subprocess.Popen(SYNC, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(chance.uniform(0.2, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        ids = big_emulator.ids("amer", "Employee")
        big_emulator.update("amer", "Employee", [{"Id": ids[round_number], "LastName": f"Round {round_number}"}])
        big_emulator.delete("emea", "Contact", big_emulator.ids("emea", "Contact")[:1])
        big_emulator.insert("amer", "Account", [{"Name": f"New in round {round_number}"}])
        big_emulator.advance_clock(5)  # small steps: JWT assertions live 3 minutes of the emulator clock
    result = run_sync_process(env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert_every_object_in_parity(big_emulator, engine)
    with engine.connect() as conn:
        for org, sobject, watermark in conn.execute(text("select org, sobject, watermark from orgfeed.mappings")).all():
            newest = conn.execute(text(f'select max(systemmodstamp) from "{org}"."{sobject.lower()}"')).scalar()
            assert watermark is not None and watermark <= newest, (org, sobject, watermark, newest)


def test_sigterm_stops_after_the_current_transaction_within_25_seconds(big_emulator, engine, database_url, tmp_path):
    _, env = write_config(big_emulator, tmp_path, database_url, bulk_threshold=1000)
    process = subprocess.Popen(SYNC, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The first event comes once the signal handlers are in place and the run has begun: a SIGTERM
    # before it would kill Python outright, one after the run's end would test nothing.
    first = json.loads(process.stdout.readline())
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    out, err = process.communicate(timeout=60)
    assert time.monotonic() - started < 25
    events = [first, *(json.loads(line) for line in out.splitlines())]
    summary = events[-1]
    assert (process.returncode, summary["event"]) == (1, "summary"), err
    statuses = {item["status"] for item in summary["objects"]}
    assert "interrupted" in statuses and statuses <= {"succeeded", "interrupted"}, summary["objects"]
    assert [event["status"] for event in events if event.get("status") == "Stopping"] == ["Stopping"]
    # whatever was committed is consistent: a later run completes to parity
    assert run_sync_process(env).returncode == 0
    assert_every_object_in_parity(big_emulator, engine)
