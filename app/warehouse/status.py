"""What `orgfeed status` and the dashboard show: per org and object, and the latest sync-log entries.

Salesforce Rows is the COUNT() the last sync recorded (status never spends API calls);
Database Rows and Errored Rows are counted in the table now.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from app.config import MappingConfig, Settings
from app.warehouse.load import count_rows
from app.warehouse.metadata import mappings, orgs, sync_log
from app.warehouse.policy import FieldPolicy
from app.warehouse.streams import StreamState, read_stream_states
from app.warehouse.tables import read_columns, table_name


@dataclass(frozen=True)
class ObjectStatus:
    org: str
    sobject: str
    status: str  # synced | new | failed | throttled | interrupted | skipped | suspended
    mapped_fields: int
    salesforce_rows: int | None
    database_rows: int | None
    errored_rows: int | None
    last_sync_at: datetime | None
    last_error: str | None
    field_policy: str = ""  # e.g. "hash Email; redact Phone"
    full_load_due: bool = False  # the policy changed since the stored rows were loaded
    mode: str = "poll"  # stream | poll
    last_change_at: datetime | None = None  # stream: the commit time of the last change applied; poll: the watermark
    lag_seconds: float | None = None  # how far the mirror may be behind the org (see freshness)


@dataclass(frozen=True)
class LogLine:
    logged_at: datetime
    org: str
    sobject: str | None
    record_id: str | None
    action: str
    status: str
    error_code: str | None
    message: str | None


def read_status(
    conn: Connection, settings: Settings, *, log_limit: int = 20
) -> tuple[list[ObjectStatus], list[LogLine]]:
    """One ObjectStatus per configured (org, object) that orgfeed loads, and the newest log entries first."""
    states = {(row.org, row.sobject.lower()): row for row in conn.execute(select(mappings))}
    suspended = {row.name for row in conn.execute(select(orgs.c.name).where(orgs.c.suspended))}
    streams = read_stream_states(conn)
    now = datetime.now(UTC)
    objects = []
    for org in settings.orgs:
        if not org.is_loaded:
            continue
        for mapping in settings.mappings:
            if mapping.orgs is not None and org.name not in mapping.orgs:
                continue
            state = states.get((org.name, mapping.object.lower()))
            has_table = bool(read_columns(conn, org.name, table_name(mapping.object)))
            database_rows, errored = count_rows(conn, org.name, mapping.object) if has_table else (None, None)
            status = "suspended" if org.name in suspended else (state.status if state else "new")
            objects.append(
                ObjectStatus(
                    org=org.name,
                    sobject=mapping.object,
                    status=status,
                    mapped_fields=state.mapped_fields if state else 0,
                    salesforce_rows=state.salesforce_rows if state else None,
                    database_rows=database_rows,
                    errored_rows=errored,
                    last_sync_at=state.last_sync_at if state else None,
                    last_error=state.last_error if state else None,
                    field_policy=policy_text(mapping),
                    full_load_due=state is not None
                    and state.watermark is not None
                    and (state.field_policy or "") != _fingerprint(mapping, settings.hash_key),
                    **asdict(
                        freshness(mapping.streams_in(org), state, streams.get((org.name, mapping.object.lower())), now)
                    ),
                )
            )
    rows = conn.execute(select(sync_log).order_by(sync_log.c.id.desc()).limit(log_limit))
    log = [
        LogLine(row.logged_at, row.org, row.sobject, row.record_id, row.action, row.status, row.error_code, row.message)
        for row in rows
    ]
    return objects, log


def policy_text(mapping: MappingConfig) -> str:
    """The mapping's field policy in words: "hash Email, Phone; redact Birthdate", or "" for none."""
    policies = (("hash", mapping.hash), ("redact", mapping.redact))
    return "; ".join(f"{action} {', '.join(names)}" for action, names in policies if names)


def _fingerprint(mapping: MappingConfig, hash_key: str | None) -> str | None:
    if mapping.hash and not hash_key:
        return None  # the key is unknown here: the next sync refuses to start without it
    return FieldPolicy.build(mapping.hash, mapping.redact, field_types={}, key=hash_key).fingerprint()


@dataclass(frozen=True)
class Freshness:
    mode: str
    last_change_at: datetime | None
    lag_seconds: float | None


def freshness(streamed: bool, state: Row[Any] | None, stream: StreamState | None, now: datetime) -> Freshness:
    """Mode, last applied change and lag of one mapping.

    Streaming (events flowing): the lag is how long the last change took from its commit in the org to its
    commit here. A stream that is not running, and polling, are behind by at most the time since they last
    caught up (the last applied batch, or the last sync).
    """
    lag: float | None
    if streamed and stream is not None:
        if stream.state == "streaming" and stream.last_change_at and stream.last_applied_at:
            lag = max((stream.last_applied_at - stream.last_change_at).total_seconds(), 0.0)
        else:
            since = stream.last_applied_at or (state.last_sync_at if state else None)
            lag = (now - since).total_seconds() if since else None
        return Freshness("stream", stream.last_change_at, lag)
    last_sync = state.last_sync_at if state else None
    return Freshness(
        "stream" if streamed else "poll",
        state.watermark if state else None,
        (now - last_sync).total_seconds() if last_sync else None,
    )


def status_record(objects: list[ObjectStatus], log: list[LogLine]) -> dict:
    """The status as JSON-able data (datetimes as ISO 8601 strings)."""

    def plain(item: ObjectStatus | LogLine) -> dict:
        return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in asdict(item).items()}

    return {"objects": [plain(item) for item in objects], "log": [plain(item) for item in log]}
