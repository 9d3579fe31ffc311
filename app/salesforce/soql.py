"""SOQL text for the loader's queries: built from names and values, never from user strings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def soql_datetime(value: datetime) -> str:
    """A SOQL dateTime literal in UTC, rounded down to the second (SOQL literals take no fractions).

    Rounding down only widens a `>=` window, so no row is missed.
    """
    if value.tzinfo is None:
        raise ValueError("SOQL datetimes need a timezone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_string(value: str) -> str:
    """A quoted SOQL string literal with backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build_select(
    sobject: str,
    fields: Sequence[str],
    *,
    modified_since: datetime | None = None,
    ids: Sequence[str] | None = None,
    order_by_modstamp: bool = False,
) -> str:
    """SELECT fields FROM sobject; optional: SystemModstamp >= modified_since, Id IN ids, ORDER BY SystemModstamp."""
    conditions = []
    if modified_since is not None:
        conditions.append(f"SystemModstamp >= {soql_datetime(modified_since)}")
    if ids is not None:
        conditions.append("Id IN (" + ", ".join(soql_string(record_id) for record_id in ids) + ")")
    text = f"SELECT {', '.join(fields)} FROM {sobject}"
    if conditions:
        text += " WHERE " + " AND ".join(conditions)
    if order_by_modstamp:
        text += " ORDER BY SystemModstamp ASC"
    return text


def build_count(sobject: str) -> str:
    """SELECT COUNT() FROM sobject: the Salesforce Rows figure (deleted rows excluded, as `query` does)."""
    return f"SELECT COUNT() FROM {sobject}"
