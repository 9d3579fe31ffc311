"""REST `query` and `queryAll`: run SOQL over a table and page the result with query locators.

Paging follows the REST API Developer Guide, "Execute a SOQL Query" and "Query Options Header":
batches of 2,000 records by default, `Sforce-Query-Options: batchSize=N` with 200 <= N <= 2,000,
`nextRecordsUrl` of the form `/services/data/vXX.X/query/<locator>-<position>` until `done`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.emulator.columns import MinuteColumn
from app.emulator.errors import SalesforceError
from app.emulator.org import Org
from app.emulator.soql.execute import (
    CompiledQuery,
    SoqlError,
    compile_query,
    make_invalid_type_error,
    parse_soql,
)
from app.emulator.soql.syntax import And, Comparison, Condition
from app.emulator.table import Table

DEFAULT_BATCH = 2000
MAX_CURSORS = 1000


@dataclass(frozen=True)
class Cursor:
    """The rest of a query's result: the rows it matched, in order, and the page size."""

    org: str
    table: Table
    fields: tuple[str, ...]
    rows: Sequence[int]
    batch_size: int


def prepare_query(
    org: Org, text: str, include_deleted: bool, now: datetime
) -> tuple[Table, CompiledQuery, Sequence[int]]:
    """Return the table, the compiled query and the matching rows in result order.

    Raises SalesforceError 400 MALFORMED_QUERY / INVALID_FIELD / INVALID_TYPE as Salesforce does.
    Call with the org's lock held.
    """
    try:
        query = parse_soql(text)
        table = org.table(query.sobject)
        if table is None:
            raise make_invalid_type_error(query)
        compiled = compile_query(query, table.sobject.field_types(), sobject_name=table.sobject.name, now=now)
    except SoqlError as error:
        raise SalesforceError(400, error.error_code, error.message) from None
    candidates: Sequence[int] | None = _rows_past_seeded_stamps(table, query.where, include_deleted)
    if candidates is None:
        candidates = table.rows(include_deleted)
    if query.where is None and not query.order_by:
        start = compiled.offset or 0
        stop = None if compiled.limit is None else start + compiled.limit
        return table, compiled, candidates[start:stop]
    selected = compiled.select(table.view(row) for row in candidates)
    return table, compiled, [view.row for view in selected]


def _rows_past_seeded_stamps(table: Table, where: Condition | None, include_deleted: bool) -> list[int] | None:
    """The only rows that can match when `where` requires a recent SystemModstamp-like timestamp, else None.

    An incremental sync asks for `SystemModstamp >= <watermark - lookback>`. Generated values grow
    with the row, so only the rows from MinuteColumn.first_row_from on, written rows (overrides)
    and inserted rows can match. Salesforce answers from an index; testing the predicate on every
    row takes seconds per million rows. The predicate still runs on what this returns.
    """
    conditions = where.conditions if isinstance(where, And) else (where,)
    for condition in conditions:
        if not (
            isinstance(condition, Comparison)
            and condition.operator in (">", ">=")
            and isinstance(condition.value, datetime)
        ):
            continue
        field = table.sobject.field(condition.field)
        column = table.columns.get(field.name) if field else None
        if field is None or not isinstance(column, MinuteColumn):
            continue
        first = min(column.first_row_from(condition.value), table.seeded)
        hidden = table.purged if include_deleted else table.purged | table.recycle_bin.keys()
        written = {row for row, values in table.overrides.items() if row < first and field.name in values}
        return sorted(row for row in written.union(range(first, table.size)) if row not in hidden)
    return None


def batch_size_of(header: str | None) -> int:
    """Return the batch size asked for in `Sforce-Query-Options`, clamped to 200..2000."""
    for option in (header or "").split(","):
        name, _, value = option.partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return min(max(int(value), 200), 2000)
    return DEFAULT_BATCH


class CursorStore:
    """Open query locators, oldest forgotten first (Salesforce expires them too)."""

    def __init__(self) -> None:
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, locator: str, cursor: Cursor) -> None:
        with self._lock:
            self._cursors[locator] = cursor
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)

    def get(self, locator: str) -> Cursor | None:
        with self._lock:
            return self._cursors.get(locator)


@dataclass(frozen=True)
class QueryRequest:
    """One `query` or `queryAll` call: the SOQL, whether deleted rows count, page size, version, time."""

    text: str
    include_deleted: bool
    batch_size: int
    api_version: str
    now: datetime


def run_query(org: Org, cursors: CursorStore, request: QueryRequest) -> dict[str, object]:
    """Return the first page of a query's result as REST JSON."""
    with org.lock:
        table, compiled, rows = prepare_query(org, request.text, request.include_deleted, request.now)
        if compiled.is_count:
            return {"totalSize": len(rows), "done": True, "records": []}
        cursor = Cursor(org.name, table, compiled.fields, rows, request.batch_size)
        return _page(org, cursors, cursor, 0, request.api_version)


def query_more(org: Org, cursors: CursorStore, locator: str, api_version: str) -> dict[str, object]:
    """Return the page a `nextRecordsUrl` points at; 400 INVALID_QUERY_LOCATOR if unknown."""
    name, _, position = locator.rpartition("-")
    cursor = cursors.get(name)
    if cursor is None or cursor.org != org.name or not position.isdigit():
        raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    with org.lock:
        return _page(org, cursors, cursor, int(position), api_version, name)


def _page(
    org: Org, cursors: CursorStore, cursor: Cursor, start: int, api_version: str, locator: str | None = None
) -> dict[str, object]:
    stop = start + cursor.batch_size
    page_rows = cursor.rows[start:stop]
    records = [cursor.table.json_record(row, cursor.fields, api_version) for row in page_rows]
    body: dict[str, object] = {"totalSize": len(cursor.rows), "done": stop >= len(cursor.rows), "records": records}
    if stop < len(cursor.rows):
        if locator is None:
            locator = org.next_id("QueryLocator")
            cursors.add(locator, cursor)
        body["nextRecordsUrl"] = f"/services/data/v{api_version}/query/{locator}-{stop}"
    return body
