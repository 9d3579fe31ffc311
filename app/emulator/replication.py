"""The replication resources `sobjects/X/updated` and `sobjects/X/deleted`.

Rules from the REST API Developer Guide ("sObject Get Updated", "sObject Get Deleted") and the
SOAP API's getUpdated()/getDeleted(): seconds are ignored (start and end truncate to the minute);
start must precede end, else INVALID_REPLICATION_DATE; results reach back at most 30 days
(updated) or 15 days (deleted) before the day of the call; at most 600,000 ids, else
EXCEEDED_ID_LIMIT. `latestDateCovered` is the end, or now when the end is in the future.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.emulator.columns import MinuteColumn
from app.emulator.errors import SalesforceError
from app.emulator.formats import format_datetime, parse_datetime
from app.emulator.table import Table

UPDATED_RETENTION_DAYS = 30
DELETED_RETENTION_DAYS = 15
ID_LIMIT = 600_000


def updated_ids(table: Table, start_text: str | None, end_text: str | None, now: datetime) -> dict[str, object]:
    """Return `{"ids": [...], "latestDateCovered": ...}` for records created or changed in the window."""
    start, end = _window(start_text, end_text, now, UPDATED_RETENTION_DAYS)
    hidden = table.recycle_bin.keys() | table.purged
    ids = [table.record_id(row) for row in _rows_stamped_in(table, start, end) if row not in hidden]
    _check_count(len(ids))
    return {"ids": ids, "latestDateCovered": format_datetime(end)}


def deleted_records(table: Table, start_text: str | None, end_text: str | None, now: datetime) -> dict[str, object]:
    """Return `{"deletedRecords": [...], "earliestDateAvailable": ..., "latestDateCovered": ...}`."""
    start, end = _window(start_text, end_text, now, DELETED_RETENTION_DAYS)
    entries = sorted((moment, row) for row, moment in table.delete_log.items() if start <= moment < end)
    _check_count(len(entries))
    earliest = _retention_start(now, DELETED_RETENTION_DAYS)
    if table.log_trimmed_at is not None:
        earliest = max(earliest, table.log_trimmed_at.replace(second=0, microsecond=0))
    return {
        "deletedRecords": [
            {"id": table.record_id(row), "deletedDate": format_datetime(moment)} for moment, row in entries
        ],
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(end),
    }


def _window(
    start_text: str | None, end_text: str | None, now: datetime, retention_days: int
) -> tuple[datetime, datetime]:
    if not start_text or not end_text:
        raise SalesforceError(400, "MISSING_ARGUMENT", "Both start and end parameters are required")
    try:
        start, end = parse_datetime(start_text), parse_datetime(end_text)
    except ValueError as error:
        raise SalesforceError(400, "INVALID_REPLICATION_DATE", str(error)) from None
    start = start.replace(second=0, microsecond=0)
    end = min(end, now).replace(second=0, microsecond=0)
    if start >= end:
        raise SalesforceError(400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
    if start < _retention_start(now, retention_days):
        raise SalesforceError(
            400, "INVALID_REPLICATION_DATE", f"startDate cannot be more than {retention_days} days ago"
        )
    return start, end


def _retention_start(now: datetime, days: int) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days)


def _rows_stamped_in(table: Table, start: datetime, end: datetime) -> list[int]:
    column = table.columns.get("SystemModstamp")
    seeded_may_match = True
    if isinstance(column, MinuteColumn):
        low, high = column.bounds
        seeded_may_match = not (high < start or low >= end)
    rows: set[int] = set()
    if seeded_may_match:
        rows.update(
            row
            for row in range(table.seeded)
            if row not in table.overrides
            and isinstance(stamp := table.value(row, "SystemModstamp"), datetime)
            and start <= stamp < end
        )
    for row, values in table.overrides.items():
        stamp = values.get("SystemModstamp")
        if stamp is None and row < table.seeded:
            stamp = table.columns["SystemModstamp"].value(row)
        if isinstance(stamp, datetime) and start <= stamp < end:
            rows.add(row)
    return sorted(rows)


def _check_count(count: int) -> None:
    if count > ID_LIMIT:
        raise SalesforceError(400, "EXCEEDED_ID_LIMIT", "Too many ids; choose start and end dates closer together")
