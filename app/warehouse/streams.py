"""Streaming state in `orgfeed.streams`: the replay id of each streamed mapping, committed with its rows.

Every function runs in the caller's transaction: the batch of change events and the replay id
after it commit together, so a crash never loses or re-applies a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as upsert

from app.warehouse.metadata import streams


@dataclass(frozen=True)
class StreamState:
    org: str
    sobject: str
    topic: str | None = None
    replay_id: bytes | None = None
    state: str = "new"  # new | starting | streaming | catching_up | reconnecting | stopped
    last_change_at: datetime | None = None
    last_applied_at: datetime | None = None
    events_applied: int = 0
    updated_at: datetime | None = None


def read_stream_state(conn: Connection, org: str, sobject: str) -> StreamState:
    """The stream state of (`org`, `sobject`); a fresh StreamState when it never streamed."""
    row = conn.execute(select(streams).where(streams.c.org == org, streams.c.sobject == sobject)).mappings().first()
    if row is None:
        return StreamState(org, sobject)
    replay_id = row["replay_id"]
    return StreamState(**{**row, "replay_id": bytes(replay_id) if replay_id is not None else None})


def read_stream_states(conn: Connection) -> dict[tuple[str, str], StreamState]:
    """Every stream state by (org, lower-cased object), for `orgfeed status`."""
    states = {}
    for row in conn.execute(select(streams)).mappings():
        replay_id = row["replay_id"]
        states[(row["org"], row["sobject"].lower())] = StreamState(
            **{**row, "replay_id": bytes(replay_id) if replay_id is not None else None}
        )
    return states


def save_stream_state(
    conn: Connection,
    org: str,
    sobject: str,
    topic: str,
    *,
    state: str | None = None,
    replay_id: bytes | None = None,
    forget_replay_id: bool = False,
    last_change_at: datetime | None = None,
    events: int = 0,
) -> None:
    """Creates or updates the stream row; None arguments keep the stored value; `events` adds to the count."""
    values: dict[str, object] = {"topic": topic, "updated_at": func.now()}
    if state is not None:
        values["state"] = state
    if replay_id is not None or forget_replay_id:
        values["replay_id"] = replay_id
    if last_change_at is not None:
        values["last_change_at"] = last_change_at
        values["last_applied_at"] = func.now()
    statement = upsert(streams).values(org=org, sobject=sobject, events_applied=events, **values)
    updates: dict[str, Any] = {name: statement.excluded[name] for name in values}
    updates["events_applied"] = streams.c.events_applied + events
    if last_change_at is not None:
        updates["last_change_at"] = func.greatest(streams.c.last_change_at, statement.excluded.last_change_at)
    conn.execute(statement.on_conflict_do_update(index_elements=[streams.c.org, streams.c.sobject], set_=updates))
