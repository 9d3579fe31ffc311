"""Streaming: apply an object's Change Data Capture events to its mirror table as they arrive (DESIGN 4.2b).

One thread per streamed (org, object) in `orgfeed sync --watch`. Each batch of events (one
FetchResponse, at most 100) and the replay id after it commit in one transaction. CDC has holes,
and polling covers them: gap events re-read their records, GAP_OVERFLOW and an expired replay id
run an incremental poll from the watermark (then streaming resumes from the latest event), and the
regular poll keeps running every `poll_seconds` for hard deletes and formula fields. A dropped
stream reconnects with backoff. Every transition is a sync-log entry (action `Stream`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.config import MappingConfig, OrgConfig, Settings
from app.salesforce import SalesforceError
from app.salesforce.client import OrgClient, RetryPolicy
from app.salesforce.describe import SYSTEM_FIELDS, parse_describe
from app.salesforce.extract import iter_query_pages, records_to_csv
from app.salesforce.pubsub import ChangeEvent, FetchBatch, PubSubClient, ReplayIdExpired, StreamError, topic_for
from app.salesforce.soql import build_select
from app.sync.report import EventSink, SyncEvent, SyncOptions
from app.warehouse import WarehouseError
from app.warehouse.identifiers import qualified_name
from app.warehouse.load import upsert_csv
from app.warehouse.policy import mapping_policy
from app.warehouse.state import LogEntry, read_mapping_state, write_log
from app.warehouse.streams import read_stream_state, save_stream_state
from app.warehouse.tables import read_columns, table_name
from app.warehouse.types import column_name

BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # reconnect delays; the last one repeats
REREAD_CHUNK = 200  # ids per `Id IN (...)` query when re-reading records
REREAD_TYPES = frozenset({"GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "UNDELETE"})


@dataclass
class MappingStream:
    """Streams one mapping of one org until `stop` is set; `poll` runs an incremental sync of it."""

    settings: Settings
    engine: Engine
    org: OrgConfig
    mapping: MappingConfig
    stop: threading.Event
    on_event: EventSink = lambda event: None
    poll: Callable[[], None] | None = None
    client: OrgClient | None = None
    topic: str = field(init=False)
    catching_up: bool = field(init=False, default=False)  # a catch-up poll is due or running: stays so when stopped

    def __post_init__(self) -> None:
        self.topic = topic_for(self.mapping.object)
        if self.poll is None:
            self.poll = self._poll

    # -- the loop -------------------------------------------------------------------------------------
    def run(self) -> None:
        """Subscribes, applies, reconnects with backoff; returns when `stop` is set."""
        failures = 0
        while not self.stop.is_set():
            try:
                if self._stream():
                    failures = 0
            except ReplayIdExpired as error:
                self._log(
                    "Warning",
                    f"{error}; polling from the watermark, then streaming from the latest event",
                    error.error_code,
                )
                self.catching_up = True
                self._save(state="catching_up", forget_replay_id=True)
                failures = 0
                continue
            except (StreamError, SalesforceError, WarehouseError, OSError) as error:
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                failures += 1
                if getattr(error, "error_code", None) == "INVALID_SESSION_ID" and self.client is not None:
                    self._relogin()
                self._log("Retrying", f"{error}; reconnecting in {delay:.0f} s", getattr(error, "error_code", None))
                self._save(state="catching_up" if self.catching_up else "reconnecting")
                self.stop.wait(delay)
            except Exception as error:  # a bug must not kill the worker's other streams
                logging.getLogger(__name__).error("stream %s %s", self.org.name, self.topic, exc_info=error)
                self._log("Failed", f"unexpected {type(error).__name__}: {error}", "INTERNAL_ERROR")
                self.stop.wait(BACKOFF_SECONDS[-1])
        self._save(state="catching_up" if self.catching_up else "stopped")

    def _stream(self) -> bool:
        """Subscribes once, after the stored replay id or (none stored) at the latest event; True once it delivered."""
        with self.engine.connect() as conn:
            mapping_state = read_mapping_state(conn, self.org.name, self.mapping.object)
            stream_state = read_stream_state(conn, self.org.name, self.mapping.object)
            columns = read_columns(conn, self.org.name, table_name(self.mapping.object))
        if mapping_state.describe_body is None or mapping_state.watermark is None or not columns:
            self.stop.wait(2.0)  # the first poll has not loaded the table yet
            return False
        replay_id = stream_state.replay_id
        # No replay id, or a catch-up poll that never finished (a crash, an expired replay id): poll once the
        # subscription's starting point is committed, so nothing between the watermark and it is missed.
        self.catching_up = replay_id is None or stream_state.state == "catching_up"
        sobject = parse_describe(mapping_state.describe_body)
        types = {item.name: item.type for item in sobject.fields}
        stored = {name: kind for name, kind in types.items() if column_name(name) in columns}
        if self.client is None:
            self.client = OrgClient(
                self.org, retry=RetryPolicy(read_timeout=float(self.settings.sync.request_timeout_seconds))
            )
        pubsub = PubSubClient(self.client, self.org.pubsub_url)
        try:
            pubsub.topic_schema_id(self.topic)
            self._log(
                "Succeeded",
                f"subscribed to {self.topic} "
                + ("after the stored replay id" if replay_id else "from the latest event"),
            )
            self._save(state="catching_up" if self.catching_up else "streaming")
            delivered = False
            for batch in pubsub.subscribe(self.topic, replay_id, types, self.stop):
                delivered = True
                overflow = self.apply_batch(batch, stored)
                if self.catching_up:
                    self._log("Succeeded", "catching up: incremental poll from the watermark")
                    self._run_poll()
                    self.catching_up = False
                    self._save(state="streaming")
                if overflow:
                    self.catching_up = True
                for event in overflow:
                    self._log(
                        "Warning",
                        f"GAP_OVERFLOW at {event.commit_timestamp:%Y-%m-%d %H:%M:%S} UTC: "
                        "too many changes for events; incremental poll over the window",
                        "GAP_OVERFLOW",
                    )
                    self._run_poll()
                if overflow:
                    self.catching_up = False
                    self._save(state="streaming")
                if self.stop.is_set():
                    break
            return delivered
        finally:
            pubsub.close()

    def _run_poll(self) -> None:
        assert self.poll is not None
        self.poll()

    def _poll(self) -> None:
        from app.sync.run import run_sync  # run.py starts the streams: import on use

        report = run_sync(
            self.settings,
            self.engine,
            SyncOptions(orgs=(self.org.name,), objects=(self.mapping.object,)),
            stop=self.stop,
        )
        for item in report.objects:
            if item.status == "skipped":  # the regular poll holds the lock: it is polling right now
                continue
            if item.status not in ("succeeded", "interrupted"):
                raise StreamError(f"catch-up poll {item.status}: {item.message}", error_code="POLL_FAILED")

    def _relogin(self) -> None:
        assert self.client is not None
        try:
            self.client.relogin()
        except SalesforceError as error:
            self._log("Failed", f"login again failed: {error}", error.error_code)

    # -- applying -------------------------------------------------------------------------------------
    def apply_batch(self, batch: FetchBatch, stored: dict[str, str]) -> list[ChangeEvent]:
        """Applies the events of `batch` and commits them with its replay id; returns the GAP_OVERFLOW events.

        `stored` maps the mapped fields (those with a column) to their describe types.
        """
        events = [event for event in batch.events if event.change_type != "SNAPSHOT"]
        overflow = [event for event in events if event.change_type == "GAP_OVERFLOW"]
        named = {record_id for event in events for record_id in event.record_ids}
        with self.engine.connect() as conn:
            known = _known_ids(conn, self.org.name, self.mapping.object, named)
        known |= {record_id for event in events if event.change_type == "CREATE" for record_id in event.record_ids}
        # Gap events carry no fields and UNDELETE may bring back a row a hard delete removed: read those
        # records; an UPDATE of a row the mirror lacks cannot be applied field by field either.
        reread_ids = sorted(
            {
                record_id
                for event in events
                for record_id in event.record_ids
                if event.change_type in REREAD_TYPES or (event.change_type == "UPDATE" and record_id not in known)
            }
        )
        # The mapping's field policies hold for events as for polls: no clear value reaches the mirror.
        policy = mapping_policy(
            self.mapping.hash,
            self.mapping.redact,
            stored,
            self.settings.hash_key,
            where=f"org {self.org.name!r}, object {self.mapping.object}",
        )
        reread = [b"".join(policy.protect_csv([doc])) for doc in self._reread(reread_ids, stored)] if reread_ids else []
        hard = self.org.delete_mode == "hard"
        with self.engine.begin() as conn:
            for event in events:
                ids = [record_id for record_id in event.record_ids if record_id in known]
                if event.change_type in ("CREATE", "UPDATE", "DELETE") and ids:
                    document = b"".join(policy.protect_csv([_event_document(event, ids, stored)]))
                    upsert_csv(conn, self.org.name, self.mapping.object, [document], hard_delete=hard)
                if reread and set(event.record_ids) & set(reread_ids):
                    # The records' current state, applied where they first appear; later events are older
                    # than it and the upsert keeps the newer SystemModstamp.
                    upsert_csv(conn, self.org.name, self.mapping.object, reread, hard_delete=hard)
                    reread = []
            save_stream_state(
                conn,
                self.org.name,
                self.mapping.object,
                self.topic,
                replay_id=batch.latest_replay_id or (events[-1].replay_id if events else None),
                # An overflow's poll is owed from this commit on: a crash before it ends polls on restart.
                state="catching_up" if overflow else None,
                last_change_at=max((event.commit_timestamp for event in events), default=None),
                events=len(events),
            )
        if events:
            kinds = sorted({event.change_type for event in events})
            self.on_event(SyncEvent("rows", self.org.name, self.mapping.object, rows=len(events)))
            if reread_ids:
                self._log("Resolved", f"re-read {len(reread_ids)} records named by {', '.join(kinds)} events")
        return overflow

    def _reread(self, ids: Sequence[str], stored: dict[str, str]) -> list[bytes]:
        """The current rows of `ids` (queryAll, so deleted ones come back marked IsDeleted) as CSV documents."""
        assert self.client is not None
        names = [name for name in SYSTEM_FIELDS if name not in ("Id",)]
        fields = ["Id", *names, *(name for name in stored if name not in SYSTEM_FIELDS)]
        documents = []
        for start in range(0, len(ids), REREAD_CHUNK):
            soql = build_select(self.mapping.object, fields, ids=ids[start : start + REREAD_CHUNK])
            documents += [page.csv for page in iter_query_pages(self.client, soql, fields, include_deleted=True)]
        return documents

    # -- bookkeeping ----------------------------------------------------------------------------------
    def _save(self, **changes: Any) -> None:
        try:
            with self.engine.begin() as conn:
                save_stream_state(conn, self.org.name, self.mapping.object, self.topic, **changes)
        except SQLAlchemyError as error:  # the database being away is reported by the next transaction needing it
            logging.getLogger(__name__).warning("stream state not saved: %s", error)

    def _log(self, status: str, message: str, error_code: str | None = None) -> None:
        try:
            with self.engine.begin() as conn:
                write_log(
                    conn,
                    LogEntry(
                        org=self.org.name,
                        sobject=self.mapping.object,
                        action="Stream",
                        status=status,
                        error_code=error_code,
                        message=message,
                    ),
                )
        except SQLAlchemyError as error:
            logging.getLogger(__name__).warning("sync log not written: %s", error)
        self.on_event(SyncEvent("log", self.org.name, self.mapping.object, status=status, message=message))


def _known_ids(conn: Connection, schema: str, sobject: str, ids: Iterable[str]) -> set[str]:
    wanted = list(ids)
    if not wanted:
        return set()
    target = qualified_name(schema, table_name(sobject))
    rows = conn.execute(text(f"select sfid from {target} where sfid = any(:ids)"), {"ids": wanted})
    return {row.sfid for row in rows}


def _event_document(event: ChangeEvent, ids: Sequence[str], stored: dict[str, str]) -> bytes:
    """A CSV document of the rows an event sets: Id, SystemModstamp (its commit time), IsDeleted and its fields.

    CREATE sets every mapped field (null where the event has none); UPDATE only the changed ones; DELETE
    (no fields) marks the row deleted and, as Salesforce's delete does, stamps LastModifiedDate/ById.
    """
    stamp = event.commit_timestamp.astimezone(UTC)
    modstamp = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    values: dict[str, object]
    if event.change_type == "DELETE":
        values = {"LastModifiedDate": modstamp, "LastModifiedById": event.commit_user or None}
    elif event.change_type == "CREATE":
        values = {name: event.values.get(name) for name in stored if name not in ("Id", "SystemModstamp", "IsDeleted")}
    else:
        values = dict(event.values)
    values = {
        name: value
        for name, value in values.items()
        if name in stored and name not in ("Id", "SystemModstamp", "IsDeleted")
    }
    header = ["Id", "SystemModstamp", "IsDeleted", *values]
    deleted = event.change_type == "DELETE"
    records = [{"Id": record_id, "SystemModstamp": modstamp, "IsDeleted": deleted, **values} for record_id in ids]
    return records_to_csv(records, header)


def start_streams(
    settings: Settings, engine: Engine, options: SyncOptions, *, on_event: EventSink, stop: threading.Event
) -> list[threading.Thread]:
    """Starts a MappingStream thread for each streamed mapping of each selected org; returns the threads."""
    from app.sync.run import mappings_for

    threads = []
    for org in settings.orgs:
        if not org.is_loaded or (options.orgs and org.name not in options.orgs):
            continue
        for mapping in mappings_for(settings, org, options.objects):
            if not mapping.streams_in(org):
                continue
            stream = MappingStream(settings, engine, org, mapping, stop, on_event)
            thread = threading.Thread(target=stream.run, name=f"stream-{org.name}-{mapping.object}", daemon=True)
            thread.start()
            threads.append(thread)
    return threads


def resumable_objects(settings: Settings, engine: Engine) -> list[str]:
    """The mapped objects streamed in every org that maps them, each with a stored replay id and a loaded table."""
    from app.sync.run import mappings_for

    orgs = [org for org in settings.orgs if org.is_loaded]
    objects = []
    with engine.connect() as conn:
        for mapping in settings.mappings:
            pairs = [(org, mapping) for org in orgs if mapping in mappings_for(settings, org)]
            if pairs and all(
                item.streams_in(org)
                and (stream := read_stream_state(conn, org.name, item.object)).replay_id is not None
                and stream.state != "catching_up"
                and read_mapping_state(conn, org.name, item.object).watermark is not None
                for org, item in pairs
            ):
                objects.append(mapping.object)
    return objects


def stream_lag(last_change_at: datetime | None, now: datetime | None = None) -> float | None:
    """Seconds between the last change applied and now (None before the first change)."""
    if last_change_at is None:
        return None
    return ((now or datetime.now(UTC)) - last_change_at).total_seconds()
