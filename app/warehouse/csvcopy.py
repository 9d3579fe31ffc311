"""COPY of one CSV document into a table, with a slow path that isolates the cells that do not fit.

Fast path: the document streams straight into `COPY ... FROM STDIN` (and into a spool file, in case
it fails). When COPY fails on a value (too long, not a number, a bad date), the document is loaded
from the spool into an all-text staging table and inserted range by range, halving failing ranges
down to single rows; a failing row is inserted with its offending cells nulled and `_hc_err` set.
Cost stays proportional to (bad rows x log rows). No pg_input_is_valid or COPY ON_ERROR: they
need PostgreSQL 16/17.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from tempfile import SpooledTemporaryFile
from typing import IO, cast

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from app.warehouse import WarehouseError
from app.warehouse.identifiers import qualified_name, quote_identifier
from app.warehouse.types import INTEGER_DIGITS, column_name

SPOOL_BYTES = 8 * 1024 * 1024  # documents larger than this spool to disk, keeping memory flat
TEXT_STAGE = "_orgfeed_text_stage"
REQUIRED_COLUMNS = ("sfid", "systemmodstamp")
# Errors that mean "a value does not fit" (SQLSTATE class 22, and 23502: an empty required cell).
VALUE_ERRORS = (psycopg.errors.DataError, psycopg.errors.NotNullViolation)


@dataclass(frozen=True)
class RowError:
    """A cell that did not fit its column: the row was loaded with it null (or skipped, for Id/SystemModstamp)."""

    sfid: str
    column: str
    value: str
    message: str


@dataclass(frozen=True)
class CsvDocument:
    """A CSV document whose header has been read: its Salesforce field names and the byte stream after the header."""

    fields: tuple[str, ...]
    body: Iterator[bytes]

    @property
    def columns(self) -> list[str]:
        """The PostgreSQL column of each header field, in header order."""
        return [column_name(field) for field in self.fields]


@dataclass(frozen=True)
class CopyOutcome:
    """How many data rows the document had, how many were loaded, and the cells that did not fit."""

    rows: int
    loaded: int
    errors: tuple[RowError, ...]


def open_document(chunks: Iterable[bytes]) -> CsvDocument | None:
    """The document in `chunks` with its header line parsed; None when the document is empty."""
    iterator = iter(chunks)
    head = b""
    while b"\n" not in head:
        chunk = next(iterator, None)
        if chunk is None:
            break
        head += chunk
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    line, _, remainder = head.partition(b"\n")
    if not line.strip():
        return None
    fields = tuple(next(csv.reader([line.decode().rstrip("\r")])))

    def body() -> Iterator[bytes]:
        if remainder:
            yield remainder
        yield from iterator

    return CsvDocument(fields, body())


def copy_statement(schema: str, table: str, columns: list[str]) -> str:
    """COPY FROM STDIN of `columns` in Bulk API 2.0's CSV dialect; empty cells and "" are both null."""
    names = ", ".join(quote_identifier(column) for column in columns)
    return f"copy {qualified_name(schema, table)} ({names}) from stdin (format csv, force_null ({names}))"


def stream_copy(conn: Connection, statement: str, chunks: Iterable[bytes], spool: IO[bytes] | None = None) -> int:
    """Runs `statement` (a COPY FROM STDIN) on `chunks`, each written to `spool` first; returns the row count."""
    driver = cast(psycopg.Connection, conn.connection.driver_connection)  # SQLAlchemy types it Any: any driver's
    with driver.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for chunk in chunks:
                if spool is not None:
                    spool.write(chunk)
                copy.write(chunk)
        return cursor.rowcount


def copy_document(
    conn: Connection, schema: str, table: str, types: dict[str, str], document: CsvDocument, *, label: str = ""
) -> CopyOutcome:
    """Loads `document` into `schema`.`table` (whose column types are `types`), isolating cells that do not fit.

    The table must have an `_hc_err` column. Rows without a usable Id or SystemModstamp are
    skipped and reported. Raises WarehouseError, naming `label` (default schema.table), when the
    CSV itself is malformed.
    """
    columns = document.columns
    with SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        savepoint = conn.begin_nested()
        try:
            rows = stream_copy(conn, copy_statement(schema, table, columns), document.body, spool)
        except VALUE_ERRORS:
            savepoint.rollback()
            for chunk in document.body:  # what COPY had not read yet
                spool.write(chunk)
            spool.seek(0)
            return copy_slowly(conn, schema, table, {column: types[column] for column in columns}, spool, label)
        savepoint.commit()
        return CopyOutcome(rows, rows, ())


def cast_expression(value: str, sql_type: str) -> str:
    """SQL casting the text expression `value` to `sql_type`; integers may arrive as 1.0E3 (Bulk API numbers).

    varchar(n) gets no explicit cast: that would silently truncate, where the INSERT's assignment
    cast raises "value too long".
    """
    if sql_type.startswith("varchar"):
        return value
    if sql_type in INTEGER_DIGITS:
        return (
            f"cast(case when {value} ~ '^ *[-+]?[0-9]+ *$' then {value} "
            f"else cast(trim_scale(cast({value} as numeric)) as text) end as {sql_type})"
        )
    return f"cast({value} as {sql_type})"


def copy_slowly(
    conn: Connection, schema: str, table: str, types: dict[str, str], spool: IO[bytes], label: str = ""
) -> CopyOutcome:
    """Loads the spooled document through an all-text staging table, range by range, isolating bad cells."""
    rows = stage_text(conn, types, spool, label or f"{schema}.{table}")
    names = ", ".join(quote_identifier(column) for column in types)
    casts = ", ".join(cast_expression(quote_identifier(column), sql_type) for column, sql_type in types.items())
    insert_range = text(
        f"insert into {qualified_name(schema, table)} ({names}) "
        f"select {casts} from {qualified_name('pg_temp', TEXT_STAGE)} "
        "where _line >= :low and _line < :high order by _line"
    )
    loaded, errors = 0, []
    # The whole document is known to fail: start from its halves, lower half first to keep row order.
    pending = [(rows // 2 + 1, rows + 1), (1, rows // 2 + 1)]
    while pending:
        low, high = pending.pop()
        if low >= high:
            continue
        savepoint = conn.begin_nested()
        try:
            loaded += conn.execute(insert_range, {"low": low, "high": high}).rowcount
            savepoint.commit()
            continue
        except DBAPIError as error:
            savepoint.rollback()
            if not isinstance(error.orig, VALUE_ERRORS):
                raise
        if high - low == 1:
            row_loaded, row_errors = load_bad_row(conn, schema, table, types, low)
            loaded += row_loaded
            errors += row_errors
        else:
            middle = (low + high) // 2
            pending += [(middle, high), (low, middle)]
    conn.execute(text(f"drop table {qualified_name('pg_temp', TEXT_STAGE)}"))
    return CopyOutcome(rows, loaded, tuple(errors))


def stage_text(conn: Connection, types: dict[str, str], spool: IO[bytes], label: str) -> int:
    """COPYs the spooled document into a fresh all-text staging table numbered by line; returns its row count.

    Raises WarehouseError naming `label` when the CSV is malformed (wrong number of cells, bad
    quoting, invalid UTF-8); the caller's transaction stays usable.
    """
    stage = qualified_name("pg_temp", TEXT_STAGE)
    conn.execute(text(f"drop table if exists {stage}"))
    text_columns = ", ".join(f"{quote_identifier(column)} text" for column in types)
    conn.execute(
        text(
            f"create temp table {quote_identifier(TEXT_STAGE)} (_line serial primary key, {text_columns}) "
            "on commit drop"
        )
    )
    savepoint = conn.begin_nested()
    try:
        stream_copy(conn, copy_statement("pg_temp", TEXT_STAGE, list(types)), iter(lambda: spool.read(1 << 20), b""))
    except psycopg.errors.DataError as error:
        savepoint.rollback()
        # The context reads 'COPY _orgfeed_text_stage, line 3: "<the row>"': keep "line 3", not the row's data.
        where = (error.diag.context or "").partition(", ")[2].partition(":")[0] or "somewhere"
        raise WarehouseError(
            f"the CSV document for {label} is malformed: {error.diag.message_primary} "
            f"({where} after the header); the extraction produced CSV that does not match its header"
        ) from error
    savepoint.commit()
    return conn.execute(text(f"select coalesce(max(_line), 0) from {stage}")).scalar_one()


def varchar_length(sql_type: str) -> int | None:
    """n for varchar(n), else None."""
    if sql_type.startswith("varchar(") and sql_type.endswith(")"):
        return int(sql_type[len("varchar(") : -1])
    return None


def find_bad_cells(
    conn: Connection, types: dict[str, str], values: dict[str, str | None]
) -> list[tuple[str, str, str]]:
    """The (column, value, message) of each cell of one row that does not cast to its column's type."""
    bad = []
    for column, sql_type in types.items():
        value = values[column]
        if value is None:
            if column in REQUIRED_COLUMNS:
                bad.append((column, "", "a required value is missing"))
            continue
        length = varchar_length(sql_type)
        if length is not None:
            if len(value) > length:
                bad.append((column, value, f"value too long for type character varying({length})"))
            continue
        savepoint = conn.begin_nested()
        try:
            conn.execute(text(f"select {cast_expression('cast(:value as text)', sql_type)}"), {"value": value})
            savepoint.commit()
        except DBAPIError as error:
            savepoint.rollback()
            if not isinstance(error.orig, VALUE_ERRORS):
                raise
            bad.append((column, value, error.orig.diag.message_primary or str(error.orig)))
    return bad


def load_bad_row(
    conn: Connection, schema: str, table: str, types: dict[str, str], line: int
) -> tuple[int, list[RowError]]:
    """Inserts staging row `line` with its bad cells nulled and `_hc_err` set; returns (rows loaded, errors)."""
    stage = qualified_name("pg_temp", TEXT_STAGE)
    names = ", ".join(quote_identifier(column) for column in types)
    values = dict(
        conn.execute(text(f"select {names} from {stage} where _line = :line"), {"line": line}).mappings().one()
    )
    sfid = values.get("sfid") or ""
    bad = find_bad_cells(conn, types, values)
    errors = [RowError(sfid, column, value, message) for column, value, message in bad]
    if any(column in REQUIRED_COLUMNS for column, _, _ in bad):
        return 0, [RowError(e.sfid, e.column, e.value, f"{e.message}: row skipped") for e in errors]
    nulled = {column for column, _, _ in bad}
    casts = ", ".join(
        "null" if column in nulled else cast_expression(quote_identifier(column), sql_type)
        for column, sql_type in types.items()
    )
    column, value, message = bad[0] if bad else ("", "", "")
    hc_err = json.dumps({"column": column, "value": value, "error": message}) if bad else None
    savepoint = conn.begin_nested()
    try:
        conn.execute(
            text(
                f"insert into {qualified_name(schema, table)} ({names}, _hc_err) "
                f"select {casts}, :hc_err from {stage} where _line = :line"
            ),
            {"line": line, "hc_err": hc_err},
        )
        savepoint.commit()
    except DBAPIError as error:
        savepoint.rollback()
        if not isinstance(error.orig, VALUE_ERRORS):
            raise
        return 0, [*errors, RowError(sfid, "", "", f"{error.orig}: row skipped")]
    return 1, errors
