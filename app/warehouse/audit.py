"""Reading and pruning the access log: who read (or wrote) what through which feed, and when.

The feed writes the rows (app.odata.accesslog); `orgfeed access-log` and the dashboard read them
here, and the worker prunes what is older than `[sync] access_log_days`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select

from app.warehouse.metadata import access_log


@dataclass(frozen=True)
class AccessEntry:
    at: datetime
    feed: str | None
    username: str | None
    client: str | None
    method: str
    path: str
    entity_set: str | None
    rows: int | None
    status: int
    duration_ms: int


def read_access_log(
    conn: Connection, *, feed: str | None = None, since: datetime | None = None, limit: int = 100
) -> list[AccessEntry]:
    """The newest `limit` entries (of `feed`, at or after `since`), newest first."""
    query = select(
        access_log.c.at,
        access_log.c.feed,
        access_log.c.username,
        access_log.c.client,
        access_log.c.method,
        access_log.c.path,
        access_log.c.entity_set,
        access_log.c.rows,
        access_log.c.status,
        access_log.c.duration_ms,
    )
    if feed is not None:
        query = query.where(access_log.c.feed == feed)
    if since is not None:
        query = query.where(access_log.c.at >= since)
    rows = conn.execute(query.order_by(access_log.c.at.desc(), access_log.c.id.desc()).limit(limit)).all()
    return [AccessEntry(**row._asdict()) for row in rows]


def latest_access_per_feed(conn: Connection, per_feed: int = 5) -> dict[str, list[AccessEntry]]:
    """Feed name -> its newest `per_feed` entries, newest first (feeds with no entry are absent)."""
    ranked = select(
        access_log,
        func.row_number().over(partition_by=access_log.c.feed, order_by=access_log.c.at.desc()).label("rank"),
    ).where(access_log.c.feed.is_not(None))
    inner = ranked.subquery()
    rows = conn.execute(
        select(
            inner.c.at,
            inner.c.feed,
            inner.c.username,
            inner.c.client,
            inner.c.method,
            inner.c.path,
            inner.c.entity_set,
            inner.c.rows,
            inner.c.status,
            inner.c.duration_ms,
        )
        .where(inner.c.rank <= per_feed)
        .order_by(inner.c.feed, inner.c.at.desc())
    ).all()
    latest: dict[str, list[AccessEntry]] = {}
    for row in rows:
        latest.setdefault(row.feed, []).append(AccessEntry(**row._asdict()))
    return latest


def prune_access_log(conn: Connection, keep: timedelta) -> int:
    """Deletes entries older than `keep`; returns how many."""
    return conn.execute(delete(access_log).where(access_log.c.at < func.now() - keep)).rowcount
