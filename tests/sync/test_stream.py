"""Streaming sync against the emulator over a real gRPC connection: each change type, each hole, each fault.

Each test loads Employee of org amer by polling once, then runs a MappingStream on a thread and
changes the org: the mirror must reach exact parity with the emulator, through events alone
(changes made "silently", with no event, stand for what CDC misses).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from app.emulator.emulator import Emulator
from app.sync.run import run_sync
from app.sync.stream import MappingStream
from app.warehouse.state import recent_log
from app.warehouse.status import read_status
from app.warehouse.streams import read_stream_state
from tests.support.configs import make_settings, org_configs
from tests.support.parity import assert_parity

pytestmark = pytest.mark.slow


def wait_until(condition: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def in_parity(emu: Emulator, engine) -> bool:
    try:
        assert_parity(emu, engine, "amer", "Employee")
    except AssertionError:
        return False
    return True


@contextlib.contextmanager
def silently(emu: Emulator) -> Iterator[None]:
    """Changes made inside publish no event (what CDC misses: gaps, overflow, expired retention)."""
    listeners = list(emu.org("amer").change_listeners)
    emu.org("amer").change_listeners.clear()
    try:
        yield
    finally:
        emu.org("amer").change_listeners.extend(listeners)


class Streaming:
    def __init__(
        self, emu: Emulator, database_url: str, engine, delete_mode: str = "soft", hash_key: str | None = None, **policy
    ) -> None:
        assert emu.pubsub is not None
        emu.pubsub.service.keepalive_seconds = 0.5
        orgs = tuple(
            org.model_copy(update={"stream": True, "pubsub_url": emu.pubsub.url, "delete_mode": delete_mode})
            for org in org_configs(emu)
        )
        settings = make_settings(emu, database_url, objects=("Employee",), orgs=orgs[:1])
        mappings = tuple(mapping.model_copy(update=policy) for mapping in settings.mappings)
        self.settings = dataclasses.replace(settings, mappings=mappings, hash_key=hash_key)
        self.engine = engine
        self.emu = emu
        report = run_sync(self.settings, engine)
        assert report.ok
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> MappingStream:
        self.stop = threading.Event()
        stream = MappingStream(self.settings, self.engine, self.settings.orgs[0], self.settings.mappings[0], self.stop)
        self.thread = threading.Thread(target=stream.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.state().state == "streaming", what="the stream to start")
        return stream

    def halt(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(15)
            assert not self.thread.is_alive()

    def state(self):
        with self.engine.connect() as conn:
            return read_stream_state(conn, "amer", "Employee")

    def log(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [(entry.status, entry.message or "") for entry in recent_log(conn, 200) if entry.action == "Stream"]

    def column(self, sfid: str, column: str):
        with self.engine.connect() as conn:
            return conn.execute(text(f'select "{column}" from amer.employee where sfid = :s'), {"s": sfid}).scalar()


@pytest.fixture
def streaming(emulator: Emulator, database_url: str, engine) -> Iterator[Streaming]:
    harness = Streaming(emulator, database_url, engine)
    try:
        yield harness
    finally:
        harness.halt()


def test_create_update_delete_and_undelete_events_reach_parity(emulator: Emulator, streaming: Streaming) -> None:
    streaming.start()
    before = streaming.state().replay_id
    ids = emulator.ids("amer", "Employee", 3)
    emulator.update("amer", "Employee", [{"Id": ids[0], "Title": "Streamed", "MiddleName": None}])
    emulator.delete("amer", "Employee", [ids[1]])
    emulator.delete("amer", "Employee", [ids[2]])
    emulator.undelete("amer", "Employee", [ids[2]])
    template = {
        k: v
        for k, v in emulator.table("amer", "Employee").view(0).items()
        if k in ("Email", "EmployeeNumber", "EmployeeStatus")
    }
    (new_id,) = emulator.insert(
        "amer", "Employee", [{**template, "FirstName": "Neu", "LastName": "Person", "EmployeeNumber": "N-1"}]
    )
    wait_until(lambda: in_parity(emulator, streaming.engine), what="parity")
    assert streaming.column(new_id, "lastname") == "Person"
    assert streaming.column(ids[0], "title") == "Streamed"
    state = streaming.state()
    assert state.replay_id != before and state.events_applied >= 5 and state.last_change_at is not None
    assert any("subscribed to /data/EmployeeChangeEvent" in message for _, message in streaming.log())
    with streaming.engine.connect() as conn:
        (status,), _ = read_status(conn, streaming.settings)
    assert (status.mode, status.last_change_at) == ("stream", state.last_change_at)
    assert status.lag_seconds is not None and 0 <= status.lag_seconds < 10


def test_change_events_are_stored_under_the_mappings_field_policies(emulator: Emulator, database_url, engine) -> None:
    import hashlib
    import hmac

    key = "stream-policy-key-" + "0" * 32
    harness = Streaming(emulator, database_url, engine, hash_key=key, hash=("Email",), redact=("Title",))
    try:
        harness.start()
        record_id = emulator.ids("amer", "Employee", 1)[0]
        emulator.update("amer", "Employee", [{"Id": record_id, "Email": " New.Address@Example.com", "Title": "Chief"}])
        expected = hmac.new(key.encode(), b"new.address@example.com", hashlib.sha256).hexdigest()
        wait_until(lambda: harness.column(record_id, "email") == expected, what="the hashed email")
        assert harness.column(record_id, "title") is None
        with engine.connect() as conn:
            stored = "\n".join(conn.execute(text("select t::text from amer.employee t")).scalars())
        assert "new.address@example.com" not in stored.lower() and "Chief" not in stored
    finally:
        harness.halt()


def test_an_update_sets_exactly_the_changed_fields(emulator: Emulator, streaming: Streaming) -> None:
    streaming.start()
    record_id = emulator.ids("amer", "Employee", 1)[0]
    with streaming.engine.begin() as conn:  # a value only the mirror has: an event that set it would overwrite it
        conn.execute(text("update amer.employee set title = 'mirror only' where sfid = :s"), {"s": record_id})
    emulator.update("amer", "Employee", [{"Id": record_id, "Department": "Streaming"}])
    wait_until(lambda: streaming.column(record_id, "department") == "Streaming", what="the update")
    assert streaming.column(record_id, "title") == "mirror only"


def test_one_event_for_several_records_updates_each(emulator: Emulator, streaming: Streaming) -> None:
    streaming.start()
    ids = emulator.ids("amer", "Employee", 4)
    emulator.update("amer", "Employee", [{"Id": record_id, "Department": "Merged"} for record_id in ids])
    wait_until(lambda: all(streaming.column(record_id, "department") == "Merged" for record_id in ids), what="merged")
    assert in_parity(emulator, streaming.engine)


def test_hard_delete_mode_removes_rows_and_undelete_brings_them_back(emulator: Emulator, database_url, engine) -> None:
    harness = Streaming(emulator, database_url, engine, delete_mode="hard")
    try:
        harness.start()
        record_id = emulator.ids("amer", "Employee", 1)[0]
        emulator.delete("amer", "Employee", [record_id])
        wait_until(lambda: harness.column(record_id, "sfid") is None, what="the hard delete")
        emulator.undelete("amer", "Employee", [record_id])
        wait_until(lambda: harness.column(record_id, "sfid") == record_id, what="the undelete")
    finally:
        harness.halt()


def test_gap_events_re_read_their_records(emulator: Emulator, streaming: Streaming) -> None:
    streaming.start()
    ids = emulator.ids("amer", "Employee", 2)
    with silently(emulator):
        emulator.update("amer", "Employee", [{"Id": record_id, "Title": "Only by re-reading"} for record_id in ids])
    emulator.pubsub_fault("gap", "amer", "Employee", ids, "GAP_UPDATE")
    wait_until(lambda: in_parity(emulator, streaming.engine), what="parity after the gap")
    assert ("Resolved", "re-read 2 records named by GAP_UPDATE events") in streaming.log()


def test_an_overflow_event_polls_the_object(emulator: Emulator, streaming: Streaming) -> None:
    streaming.start()
    ids = emulator.ids("amer", "Employee", 5)
    with silently(emulator):
        emulator.update(
            "amer", "Employee", [{"Id": record_id, "Title": f"Overflow {n}"} for n, record_id in enumerate(ids)]
        )
    emulator.pubsub_fault("overflow", "amer", "Employee")
    wait_until(lambda: in_parity(emulator, streaming.engine), what="parity after the overflow")
    assert any(status == "Warning" and "GAP_OVERFLOW" in message for status, message in streaming.log())


def test_an_expired_replay_id_polls_from_the_watermark_then_streams_from_the_latest(
    emulator: Emulator, streaming: Streaming
) -> None:
    streaming.start()
    streaming.halt()
    ids = emulator.ids("amer", "Employee", 3)
    emulator.update("amer", "Employee", [{"Id": ids[0], "Title": "While away"}])
    emulator.pubsub_fault("expire", "amer")
    streaming.start()
    wait_until(lambda: in_parity(emulator, streaming.engine), what="parity after catching up")
    assert any(status == "Warning" and "polling from the watermark" in message for status, message in streaming.log())
    emulator.update("amer", "Employee", [{"Id": ids[1], "Title": "After resuming"}])
    wait_until(lambda: streaming.column(ids[1], "title") == "After resuming", what="streaming again")


def test_a_dropped_stream_reconnects_and_logs_in_again(emulator: Emulator, streaming: Streaming) -> None:
    streaming.start()
    record_id = emulator.ids("amer", "Employee", 1)[0]
    emulator.expire_sessions()
    emulator.pubsub_fault("drop", "amer")
    wait_until(lambda: any(status == "Retrying" for status, _ in streaming.log()), what="the reconnect")
    emulator.update("amer", "Employee", [{"Id": record_id, "Title": "After the drop"}])
    wait_until(
        lambda: streaming.column(record_id, "title") == "After the drop", timeout=30, what="the reconnected stream"
    )
    assert in_parity(emulator, streaming.engine)


def test_a_stream_stopped_while_catching_up_polls_again_when_it_resumes(
    emulator: Emulator, streaming: Streaming
) -> None:
    streaming.start()
    streaming.halt()
    with streaming.engine.begin() as conn:  # as a crash in the middle of the catch-up poll leaves it
        conn.execute(text("update orgfeed.streams set state = 'catching_up'"))
    record_id = emulator.ids("amer", "Employee", 1)[0]
    with silently(emulator):
        emulator.update("amer", "Employee", [{"Id": record_id, "Title": "Only the poll sees this"}])
    streaming.start()
    wait_until(lambda: in_parity(emulator, streaming.engine), what="parity after the second catch-up")
