"""orgfeed's own state in the `orgfeed` schema: orgs, per-mapping watermarks, sync runs, the sync log.

Every function runs in the caller's transaction (mapping locks are in `app.warehouse.locks`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as upsert

from app.warehouse import WarehouseError
from app.warehouse.metadata import LOG_STATUSES, RUN_STATUSES, mappings, orgs, sync_log, sync_run_objects, sync_runs


@dataclass(frozen=True)
class MappingState:
    """The mappings row of one (org, object); the defaults stand for a mapping never synced."""

    org: str
    sobject: str
    status: str = "new"
    watermark: datetime | None = None
    describe_modified: str | None = None
    describe_body: dict | None = None
    field_policy: str | None = None  # the policy fingerprint of the last full load (see warehouse.policy)
    mapped_fields: int = 0
    salesforce_rows: int | None = None
    last_sync_at: datetime | None = None
    last_full_sync_at: datetime | None = None
    last_reconcile_at: datetime | None = None
    last_error: str | None = None


MAPPING_FIELDS = frozenset(field.name for field in fields(MappingState)) - {"org", "sobject"}


@dataclass(frozen=True)
class LogEntry:
    """One sync log entry, after Salesforce Organization Sync's log; `logged_at` is set when read back."""

    org: str
    action: str
    status: str
    sobject: str | None = None
    record_id: str | None = None
    error_code: str | None = None
    message: str | None = None
    run_id: int | None = None
    logged_at: datetime | None = None


def record_org(conn: Connection, name: str, org_id: str | None = None) -> None:
    """Adds org `name` if new; sets its Salesforce org id when `org_id` is given (None keeps the stored one)."""
    statement = upsert(orgs).values(name=name, org_id=org_id)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[orgs.c.name], set_={"org_id": func.coalesce(statement.excluded.org_id, orgs.c.org_id)}
        )
    )


def set_suspended(conn: Connection, name: str, suspended: bool) -> None:
    """Suspends or resumes org `name`; raises WarehouseError when orgfeed has never seen that org."""
    result = conn.execute(
        update(orgs)
        .where(orgs.c.name == name)
        .values(suspended=suspended, suspended_at=func.now() if suspended else None)
    )
    if result.rowcount == 0:
        known = ", ".join(conn.execute(select(orgs.c.name).order_by(orgs.c.name)).scalars()) or "none yet"
        raise WarehouseError(
            f"unknown org {name!r}: orgfeed knows {known}; check the name in orgfeed.toml, or sync it once"
        )


def read_mapping_state(conn: Connection, org: str, sobject: str) -> MappingState:
    """The state of mapping (`org`, `sobject`); a fresh MappingState when it has none yet."""
    row = conn.execute(select(mappings).where(mappings.c.org == org, mappings.c.sobject == sobject)).mappings().first()
    if row is None:
        return MappingState(org, sobject)
    return MappingState(org, sobject, **{name: row[name] for name in MAPPING_FIELDS})


def save_mapping_state(conn: Connection, org: str, sobject: str, **changes: object) -> None:
    """Creates or updates mapping (`org`, `sobject`) with `changes` (MappingState field names).

    The watermark only moves forward: an older value than the stored one is ignored. Raises
    WarehouseError for an unknown field or an org not yet recorded with record_org.
    """
    unknown = set(changes) - MAPPING_FIELDS
    if unknown:
        raise WarehouseError(f"mapping state has no field(s) {sorted(unknown)}; known: {sorted(MAPPING_FIELDS)}")
    if conn.execute(select(orgs.c.name).where(orgs.c.name == org)).first() is None:
        raise WarehouseError(f"org {org!r} is not recorded: call record_org before saving its mapping state")
    statement = upsert(mappings).values(org=org, sobject=sobject, **changes)
    updates: dict[str, ColumnElement[Any]] = {name: statement.excluded[name] for name in changes}
    if "watermark" in changes:
        updates["watermark"] = func.greatest(mappings.c.watermark, statement.excluded.watermark)
    if updates:
        conn.execute(statement.on_conflict_do_update(index_elements=[mappings.c.org, mappings.c.sobject], set_=updates))
    else:
        conn.execute(statement.on_conflict_do_nothing())


def check_status(status: str, allowed: tuple[str, ...], what: str) -> None:
    """Raises WarehouseError unless `status` is one of `allowed`."""
    if status not in allowed:
        raise WarehouseError(f"{status!r} is not a {what} status; use one of {', '.join(allowed)}")


def start_run(conn: Connection, *, full: bool) -> int:
    """Records the start of a sync run on this host and process; returns the run's id."""
    return conn.execute(
        insert(sync_runs).values(full=full, host=socket.gethostname()[:255], pid=os.getpid()).returning(sync_runs.c.id)
    ).scalar_one()


def finish_run(conn: Connection, run_id: int, status: str, **counts: int) -> None:
    """Records the end of run `run_id` with `status` and counts (rows_upserted, rows_tombstoned, api_calls)."""
    check_status(status, RUN_STATUSES, "run")
    conn.execute(
        update(sync_runs).where(sync_runs.c.id == run_id).values(finished_at=func.now(), status=status, **counts)
    )


def start_run_object(conn: Connection, run_id: int, org: str, sobject: str) -> None:
    """Records that run `run_id` started on (`org`, `sobject`)."""
    conn.execute(insert(sync_run_objects).values(run_id=run_id, org=org, sobject=sobject))


def finish_run_object(
    conn: Connection, run_id: int, org: str, sobject: str, status: str, *, error: str | None = None, **counts: int
) -> None:
    """Records how run `run_id` ended on (`org`, `sobject`): `status`, counts (as finish_run) and the error, if any."""
    check_status(status, RUN_STATUSES, "run")
    conn.execute(
        update(sync_run_objects)
        .where(
            sync_run_objects.c.run_id == run_id, sync_run_objects.c.org == org, sync_run_objects.c.sobject == sobject
        )
        .values(finished_at=func.now(), status=status, error=error, **counts)
    )


def write_log(conn: Connection, entry: LogEntry) -> None:
    """Appends `entry` to the sync log (its `logged_at` is ignored: the database's clock stamps it)."""
    check_status(entry.status, LOG_STATUSES, "sync log")
    values = {field.name: getattr(entry, field.name) for field in fields(LogEntry) if field.name != "logged_at"}
    conn.execute(insert(sync_log).values(**values))


def recent_log(conn: Connection, limit: int = 20) -> list[LogEntry]:
    """The `limit` newest sync log entries, newest first, with `logged_at` set."""
    names = [field.name for field in fields(LogEntry)]
    rows = conn.execute(
        select(*(sync_log.c[name] for name in names))
        .order_by(sync_log.c.logged_at.desc(), sync_log.c.id.desc())
        .limit(limit)
    ).mappings()
    return [LogEntry(**row) for row in rows]


@dataclass(frozen=True)
class OrgState:
    """The orgs row of one org; the defaults stand for an org never seen."""

    name: str
    org_id: str | None = None
    suspended: bool = False
    throttled_until: datetime | None = None


def read_org_state(conn: Connection, name: str) -> OrgState:
    """Org `name`'s identity, suspension and throttling (defaults when it was never recorded)."""
    row = (
        conn.execute(
            select(orgs.c.name, orgs.c.org_id, orgs.c.suspended, orgs.c.throttled_until).where(orgs.c.name == name)
        )
        .mappings()
        .first()
    )
    return OrgState(**row) if row else OrgState(name=name)
