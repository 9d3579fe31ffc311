"""One mirrored record at a time: refresh its row from the record Salesforce returned, mark it deleted, read its stamp.

What a write through a feed uses so the next read shows it. Every function runs in the caller's
transaction; a row never replaces one with a newer systemmodstamp (the sync may have been faster).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, text

from app.warehouse import WarehouseError
from app.warehouse.identifiers import qualified_name, quote_identifier
from app.warehouse.tables import read_columns, table_name
from app.warehouse.types import column_name

# Columns the upsert fills itself, or never from a record.
_OWN_COLUMNS = frozenset({"id", "isdeleted", "_hc_lastop", "_hc_err"})


def record_lock_key(org: str, record_id: str) -> str:
    """The text hashed into the transaction-level advisory lock that serializes writes to one record."""
    return f"orgfeed/record/{org}/{record_id}"


def lock_record(conn: Connection, org: str, record_id: str) -> None:
    """Waits for, then holds until the transaction ends, the write lock of record `record_id` of `org`."""
    conn.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:key, 2))"), {"key": record_lock_key(org, record_id)}
    )


def refresh_record_row(conn: Connection, schema: str, sobject: str, record: Mapping[str, Any]) -> bool:
    """Upserts the row of `record` (a REST API record: field name -> JSON value); False when the table held a newer one.

    Only the table's columns are written (unmapped fields are left out); the record is live.
    """
    table = table_name(sobject)
    columns = read_columns(conn, schema, table)
    if not columns:
        raise WarehouseError(f"{schema}.{table} does not exist: run `orgfeed sync` first")
    document: dict[str, Any] = {}
    for field, value in record.items():
        column = column_name(field)
        if column in columns and column not in _OWN_COLUMNS and not isinstance(value, dict):
            document[column] = value
    if "sfid" not in document or "systemmodstamp" not in document:
        raise WarehouseError(f"a {sobject} record needs Id and SystemModstamp to be mirrored")
    names = list(document)
    quoted = ", ".join(quote_identifier(name) for name in names)
    updates = ", ".join(f"{quote_identifier(name)} = excluded.{quote_identifier(name)}" for name in names)
    target = qualified_name(schema, table)
    # json_populate_record parses each value with the column's own type input (timestamps with +0000 included).
    result = conn.execute(
        text(
            f"insert into {target} as target ({quoted}, isdeleted, _hc_lastop, _hc_err) "
            f"select {quoted}, false, 'INSERTED', null from json_populate_record(null::{target}, cast(:doc as json)) "
            f"on conflict (sfid) do update set {updates}, isdeleted = false, _hc_lastop = 'UPDATED', _hc_err = null "
            "where target.systemmodstamp <= excluded.systemmodstamp"
        ),
        {"doc": orjson.dumps(document, default=str).decode()},
    )
    return result.rowcount == 1


def mark_record_deleted(conn: Connection, schema: str, sobject: str, sfid: str, *, hard: bool) -> bool:
    """Marks the row of `sfid` deleted (`_hc_lastop` DELETED), or removes it when `hard`; False when there was none."""
    target = qualified_name(schema, table_name(sobject))
    if hard:
        statement = f"delete from {target} where sfid = :sfid"
    else:
        statement = f"update {target} set isdeleted = true, _hc_lastop = 'DELETED' where sfid = :sfid"
    return conn.execute(text(statement), {"sfid": sfid}).rowcount > 0


def read_systemmodstamp(conn: Connection, schema: str, sobject: str, sfid: str) -> datetime | None:
    """The mirror's systemmodstamp of `sfid`; None when the table has no such row."""
    target = qualified_name(schema, table_name(sobject))
    return conn.execute(text(f"select systemmodstamp from {target} where sfid = :sfid"), {"sfid": sfid}).scalar()
