"""The event bus: every org's change events in commit order, retained 72 hours on the emulator's clock.

Replay ids are opaque to clients (8 bytes: a big-endian counter of the bus). A replay id is valid
while no event after it has been purged. Writes made in one control-API call are merged, as
Salesforce merges the same change to several records of one transaction into one event.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.emulator.changes import Change
from app.emulator.clock import Clock
from app.emulator.org import Org
from app.emulator.pubsub.avro import EventSchema, avro_value, build_schema, event_name, field_bitmap
from app.emulator.schema import SObjectType
from app.emulator.table import Table

RETENTION = timedelta(
    hours=72
)  # https://developer.salesforce.com/docs/platform/pub-sub-api/guide/event-message-durability.html
ALWAYS_CHANGED = ("LastModifiedDate", "LastModifiedById")  # every update sets them, so every UPDATE names them


class ReplayIdInvalid(Exception):
    """A replay id the bus cannot resume after: malformed, from the future, or older than the retention."""


@dataclass
class StoredEvent:
    number: int
    org: str
    topic: str
    at: datetime
    schema_id: str
    event_id: str
    record: dict[str, object]  # header and body, in Avro types
    payload: bytes = b""

    @property
    def replay_id(self) -> bytes:
        return encode_replay_id(self.number)


def encode_replay_id(number: int) -> bytes:
    return number.to_bytes(8, "big")


def decode_replay_id(replay_id: bytes) -> int:
    if len(replay_id) != 8:
        raise ReplayIdInvalid(f"replay id of {len(replay_id)} bytes is not one this org issued")
    return int.from_bytes(replay_id, "big")


@dataclass
class _OrgEvents:
    events: list[StoredEvent] = field(default_factory=list)
    purged_through: int = 0  # the number of the newest event no longer kept (0: none purged)
    drops: int = 0  # bumped by the drop-streams fault; subscriptions watching it end
    pending: list[tuple[Table, Change]] | None = None  # writes of an open control-API call


class EventBus:
    """Thread-safe store of change events; `condition` wakes subscribers when events arrive or faults hit."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.condition = threading.Condition()
        self._orgs: dict[str, _OrgEvents] = {}
        self._schemas: dict[str, EventSchema] = {}  # schema id -> schema
        self._by_sobject: dict[int, tuple[SObjectType, EventSchema]] = {}  # id(SObjectType) -> it, its schema
        self._counter = 0

    # -- producing ----------------------------------------------------------------------------------
    def watch(self, org: Org) -> None:
        org.change_listeners.append(self.record)

    def record(self, org: Org, table: Table, change: Change) -> None:
        """Publish the event of one committed write (called under the org's lock)."""
        with self.condition:
            state = self._state(org.name)
            if state.pending is not None:
                state.pending.append((table, change))
                return
        self._publish(org.name, [self._change_record(table, change)])

    @contextlib.contextmanager
    def transaction(self, org: str) -> Iterator[None]:
        """Merge the writes made inside into as few events as Salesforce would send (same change, several ids)."""
        with self.condition:
            state = self._state(org)
            state.pending = []
        try:
            yield
        finally:
            with self.condition:
                pending, state.pending = state.pending or [], None
            merged: list[tuple[str, dict[str, Any]]] = []
            for table, change in pending:
                topic, record = self._change_record(table, change)
                previous = merged[-1][1] if merged and merged[-1][0] == topic else None
                if previous is not None and _same_change(previous, record):
                    previous["ChangeEventHeader"]["recordIds"].append(change.record_id)
                else:
                    merged.append((topic, record))
            self._publish(org, merged)

    def publish_gap(self, org: str, sobject: SObjectType, ids: Sequence[str], change_type: str) -> None:
        """A gap event (GAP_CREATE, GAP_UPDATE, …): ids and no fields; GAP_OVERFLOW carries no ids either."""
        header = _header(
            sobject.name, list(ids) if change_type != "GAP_OVERFLOW" else [], change_type, self.clock.now()
        )
        schema = self.schema_for(sobject)
        body = {name: None for name, _ in schema.fields}
        self._publish(org, [(_topic(sobject), {"ChangeEventHeader": header, **body, "_schema": schema})])

    def _change_record(self, table: Table, change: Change) -> tuple[str, dict[str, Any]]:
        schema = self.schema_for(table.sobject)
        row = table.row_of(change.record_id)
        values: dict[str, object] = {name: None for name, _ in schema.fields}
        changed: list[int] = []
        nulled: list[int] = []
        if change.change_type in ("CREATE", "UNDELETE", "UPDATE") and row is not None:
            named = set(change.fields) | set(ALWAYS_CHANGED)
            if {"FirstName", "LastName"} & named:
                named.add("Name")  # computed from them (records._fill_generated_names)
            for position, (name, kind) in enumerate(schema.fields, start=1):
                if change.change_type != "UPDATE" or name in named:
                    value = avro_value(kind, table.value(row, name))
                    values[name] = value
                    if change.change_type == "UPDATE":
                        changed.append(position)
                        if value is None:
                            nulled.append(position)
        header = _header(table.sobject.name, [change.record_id], change.change_type, change.at, change.user_id)
        header["changedFields"], header["nulledFields"] = field_bitmap(changed), field_bitmap(nulled)
        return _topic(table.sobject), {"ChangeEventHeader": header, **values, "_schema": schema}

    def _publish(self, org: str, records: Sequence[tuple[str, dict[str, Any]]]) -> None:
        if not records:
            return
        with self.condition:
            state = self._state(org)
            self._purge(state)
            for topic, record in records:
                schema: EventSchema = record.pop("_schema")
                self._counter += 1
                header: dict[str, Any] = record["ChangeEventHeader"]
                header["commitNumber"] = self._counter
                at = datetime.fromtimestamp(header["commitTimestamp"] / 1000, tz=self.clock.now().tzinfo)
                event = StoredEvent(self._counter, org, topic, at, schema.schema_id, str(uuid.uuid4()), record)
                event.payload = schema.encode(record)
                event.record = {}  # encoded: only the payload is served
                state.events.append(event)
            self.condition.notify_all()

    # -- schemas --------------------------------------------------------------------------------------
    def schema_for(self, sobject: SObjectType) -> EventSchema:
        with self.condition:
            known = self._by_sobject.get(id(sobject))
            if known is not None:
                return known[1]
            schema = build_schema(sobject)
            self._by_sobject[id(sobject)] = (sobject, schema)  # holding it keeps its id from being reused
            self._schemas[schema.schema_id] = schema
            return schema

    def schema(self, schema_id: str) -> EventSchema | None:
        with self.condition:
            return self._schemas.get(schema_id)

    # -- consuming ------------------------------------------------------------------------------------
    def latest(self, org: str) -> int:
        """The number of the newest event of any topic of `org` (a LATEST subscription starts after it)."""
        with self.condition:
            return self._counter

    def earliest(self, org: str) -> int:
        with self.condition:
            state = self._state(org)
            self._purge(state)
            return state.purged_through

    def check_replay(self, org: str, number: int) -> None:
        """Raise ReplayIdInvalid unless every event after `number` is still kept."""
        with self.condition:
            state = self._state(org)
            self._purge(state)
            if number < state.purged_through or number > self._counter:
                raise ReplayIdInvalid(
                    f"replay id {number} is outside the retained events ({state.purged_through}..{self._counter})"
                )

    def events_after(self, org: str, topic: str, number: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events of `topic` after event `number`, oldest first (call holding `condition`)."""
        state = self._state(org)
        if number < state.purged_through:
            raise ReplayIdInvalid("the events after this replay id have expired")
        found = []
        for event in state.events:
            if event.number > number and event.topic == topic:
                found.append(event)
                if len(found) == limit:
                    break
        return found

    def drops(self, org: str) -> int:
        return self._state(org).drops

    # -- faults ---------------------------------------------------------------------------------------
    def drop_streams(self, org: str) -> None:
        """End every open subscription of `org` with UNAVAILABLE, as a lost connection would."""
        with self.condition:
            self._state(org).drops += 1
            self.condition.notify_all()

    def expire_replay_ids(self, org: str) -> int:
        """Purge every event of `org` kept so far: resuming from any replay id issued before fails. Returns how many."""
        with self.condition:
            state = self._state(org)
            count = len(state.events)
            state.purged_through = max(state.purged_through, self._counter)
            state.events.clear()
            self.condition.notify_all()
            return count

    def _purge(self, state: _OrgEvents) -> None:
        horizon = self.clock.now() - RETENTION
        while state.events and state.events[0].at < horizon:
            state.purged_through = state.events.pop(0).number

    def _state(self, org: str) -> _OrgEvents:
        return self._orgs.setdefault(org, _OrgEvents())


def _topic(sobject: SObjectType) -> str:
    return f"/data/{event_name(sobject.name)}"


def _header(entity: str, ids: list[str], change_type: str, at: datetime, user_id: str = "") -> dict[str, object]:
    return {
        "entityName": entity,
        "recordIds": ids,
        "changeType": change_type,
        "changeOrigin": "com/salesforce/api/rest/62.0",
        "transactionKey": str(uuid.uuid4()),
        "sequenceNumber": 1,
        "commitTimestamp": int(at.timestamp() * 1000),
        "commitNumber": 0,
        "commitUser": user_id,
        "nulledFields": [],
        "diffFields": [],
        "changedFields": [],
    }


def _same_change(previous: dict[str, Any], record: dict[str, Any]) -> bool:
    """Same change type, time, user, changed fields and values: Salesforce sends one event for all the ids."""
    a, b = previous["ChangeEventHeader"], record["ChangeEventHeader"]
    keys = ("changeType", "commitTimestamp", "commitUser", "changedFields", "nulledFields")
    if any(a[key] != b[key] for key in keys) or a["changeType"] == "CREATE":
        return False
    return all(previous[name] == record[name] for name in record if name not in ("ChangeEventHeader", "_schema"))
