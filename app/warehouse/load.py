"""Loading Salesforce rows into an org's tables: CSV upserts, full-load COPY, tombstones and reconciliation.

Rows arrive as CSV documents (Bulk API 2.0's dialect: a header of Salesforce field names, then
rows; empty cells are null). Every function runs in the caller's transaction, so the caller can
write the watermark in the same one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import psycopg
from sqlalchemy import Connection, text

from app.warehouse import WarehouseError
from app.warehouse.csvcopy import CopyOutcome, CsvDocument, RowError, copy_document, open_document
from app.warehouse.identifiers import qualified_name, quote_identifier
from app.warehouse.shadow import create_shadow, swap_shadow
from app.warehouse.tables import read_columns, table_name

__all__ = [
    "LoadResult",
    "RowError",
    "copy_csv_into",
    "count_rows",
    "create_shadow",
    "find_missing",
    "swap_shadow",
    "tombstone",
    "upsert_csv",
]

STAGE = "_orgfeed_stage"
IDS_STAGE = "_orgfeed_ids"


@dataclass(frozen=True)
class LoadResult:
    """What loading one document did.

    `rows` counts the document's data rows, including rows skipped for a missing Id or
    SystemModstamp and rows older than the stored version (which count nowhere else).
    `deleted` counts rows now marked deleted or removed; `errors` lists every cell that did not fit.
    """

    rows: int
    inserted: int
    updated: int
    deleted: int
    errors: tuple[RowError, ...]
    max_systemmodstamp: datetime | None


def checked_types(conn: Connection, schema: str, table: str, document: CsvDocument) -> dict[str, str]:
    """The types of `schema`.`table`'s columns; raises WarehouseError when the header names a field it lacks."""
    types = read_columns(conn, schema, table)
    if not types:
        raise WarehouseError(f"table {schema}.{table} does not exist: call ensure_table (or create_shadow) first")
    unknown = [field for field, column in zip(document.fields, document.columns) if column not in types]
    missing = [field for field in ("Id", "SystemModstamp") if field not in document.fields]
    if unknown or missing or len(set(document.columns)) != len(document.columns):
        raise WarehouseError(
            f"the CSV header for {schema}.{table} does not fit the table: fields without a column {unknown}, "
            f"required fields missing {missing}, header {list(document.fields)}; "
            "call ensure_table with the fields you select"
        )
    return types


def copy_csv_into(conn: Connection, schema: str, table: str, chunks: Iterable[bytes]) -> LoadResult:
    """COPYs one CSV document straight into `schema`.`table` (a shadow, or a new empty table): the full-load fast path.

    Every row counts as inserted; there is no de-duplication (swap_shadow refuses duplicate Ids).
    `max_systemmodstamp` covers this document's rows and possibly a few rows of the previous one
    (it is read from the heap pages this COPY filled, which a watermark, being a maximum, tolerates).
    """
    document = open_document(chunks)
    if document is None:
        return LoadResult(0, 0, 0, 0, (), None)
    types = checked_types(conn, schema, table, document)
    relation = qualified_name(schema, table)
    first_page = conn.execute(
        text(
            "select greatest(pg_relation_size(cast(:relation as regclass)) / current_setting('block_size')::int - 1, 0)"
        ),
        {"relation": relation},
    ).scalar_one()
    outcome = copy_document(conn, schema, table, types, document)
    newest = conn.execute(
        text(f"select max(systemmodstamp) from {relation} where ctid >= cast(:tid as tid)"),
        {"tid": f"({first_page},0)"},
    ).scalar()
    return LoadResult(outcome.rows, outcome.loaded, 0, 0, outcome.errors, newest)


def create_stage(conn: Connection, types: dict[str, str], columns: list[str]) -> None:
    """Creates the temporary typed staging table for an upsert: `columns`, isdeleted and _hc_err."""
    conn.execute(text(f"drop table if exists {qualified_name('pg_temp', STAGE)}"))
    definitions = []
    for column in dict.fromkeys([*columns, "isdeleted"]):
        required = " not null" if column in ("sfid", "systemmodstamp", "isdeleted") else ""
        default = " default false" if column == "isdeleted" else ""
        definitions.append(f"{quote_identifier(column)} {types[column]}{required}{default}")
    # on commit drop: behind a transaction pooler a temp table must not outlive its transaction
    conn.execute(
        text(f"create temp table {quote_identifier(STAGE)} ({', '.join(definitions)}, _hc_err text) on commit drop")
    )


def upsert_csv(
    conn: Connection, schema: str, sobject: str, chunks: Iterable[bytes], *, hard_delete: bool = False
) -> LoadResult:
    """Upserts one CSV document into `sobject`'s table by sfid; a row never replaces one with a newer systemmodstamp.

    Rows with IsDeleted true are marked isdeleted (`_hc_lastop` DELETED), or removed when
    `hard_delete`; IsDeleted false brings a deleted record back. A header without IsDeleted means
    a `query` (not `queryAll`) result, whose rows are all live. Fields absent from the header keep
    their stored values. Cells that do not fit are nulled and reported in `errors`.
    """
    table = table_name(sobject)
    document = open_document(chunks)
    if document is None:
        return LoadResult(0, 0, 0, 0, (), None)
    types = checked_types(conn, schema, table, document)
    create_stage(conn, types, document.columns)
    outcome: CopyOutcome = copy_document(conn, "pg_temp", STAGE, types, document, label=f"{schema}.{table}")
    columns = list(dict.fromkeys([*document.columns, "isdeleted", "_hc_err"]))
    names = ", ".join(quote_identifier(column) for column in columns)
    updates = ", ".join(
        f"{quote_identifier(column)} = excluded.{quote_identifier(column)}" for column in columns if column != "sfid"
    )
    stage, target = qualified_name("pg_temp", STAGE), qualified_name(schema, table)
    # Several versions of one record in a document (overlapping pages): keep the newest.
    incoming = f"select distinct on (sfid) * from {stage} order by sfid, systemmodstamp desc"
    deleted = 0
    if hard_delete:
        deleted = conn.execute(
            text(
                f"delete from {target} as target using ({incoming}) as incoming "
                "where target.sfid = incoming.sfid and incoming.isdeleted "
                "and target.systemmodstamp <= incoming.systemmodstamp"
            )
        ).rowcount
    counts = conn.execute(
        text(
            f"""
            with upserted as (
                insert into {target} as target ({names}, _hc_lastop)
                select {names}, case when isdeleted then 'DELETED' else 'INSERTED' end
                from ({incoming}) as incoming
                where not (isdeleted and :hard_delete)
                on conflict (sfid) do update set {updates},
                    _hc_lastop = case when excluded.isdeleted then 'DELETED' else 'UPDATED' end
                where target.systemmodstamp <= excluded.systemmodstamp
                returning xmax = 0 as inserted, isdeleted
            )
            select count(*) filter (where inserted and not isdeleted) as inserted,
                   count(*) filter (where not inserted and not isdeleted) as updated,
                   count(*) filter (where isdeleted) as deleted
            from upserted
            """
        ),
        {"hard_delete": hard_delete},
    ).one()
    newest = conn.execute(text(f"select max(systemmodstamp) from {stage}")).scalar()
    conn.execute(text(f"drop table {stage}"))
    return LoadResult(outcome.rows, counts.inserted, counts.updated, deleted + counts.deleted, outcome.errors, newest)


def stage_ids(conn: Connection, sfids: Iterable[str]) -> str:
    """COPYs `sfids` into a fresh temporary table (one text column, sfid) and returns its quoted name."""
    stage = qualified_name("pg_temp", IDS_STAGE)
    conn.execute(text(f"drop table if exists {stage}"))
    conn.execute(
        text(f'create temp table {quote_identifier(IDS_STAGE)} (sfid varchar(18) collate "C" not null) on commit drop')
    )
    driver = cast(psycopg.Connection, conn.connection.driver_connection)  # SQLAlchemy types it Any: any driver's
    with driver.cursor() as cursor, cursor.copy(f"copy {stage} (sfid) from stdin") as copy:
        for sfid in sfids:
            copy.write_row((sfid,))
    conn.execute(text(f"analyze {stage}"))
    return stage


def tombstone(conn: Connection, schema: str, sobject: str, sfids: Iterable[str], *, hard: bool) -> int:
    """Marks records `sfids` (deleted in Salesforce) isdeleted, or removes them if `hard`; returns how many changed."""
    stage = stage_ids(conn, sfids)
    target = qualified_name(schema, table_name(sobject))
    if hard:
        statement = f"delete from {target} as target using {stage} as ids where target.sfid = ids.sfid"
    else:
        statement = (
            f"update {target} as target set isdeleted = true, _hc_lastop = 'DELETED' "
            f"from {stage} as ids where target.sfid = ids.sfid and not target.isdeleted"
        )
    changed = conn.execute(text(statement)).rowcount
    conn.execute(text(f"drop table {stage}"))
    return changed


def find_missing(conn: Connection, schema: str, sobject: str, live_sfids: Iterable[str]) -> list[str]:
    """The sfids of non-deleted rows absent from `live_sfids` (hard-deleted or purged in Salesforce), sorted."""
    stage = stage_ids(conn, live_sfids)
    target = qualified_name(schema, table_name(sobject))
    missing = (
        conn.execute(
            text(
                f"select target.sfid from {target} as target where not target.isdeleted "
                f"and not exists (select from {stage} as ids where ids.sfid = target.sfid) order by target.sfid"
            )
        )
        .scalars()
        .all()
    )
    conn.execute(text(f"drop table {stage}"))
    return list(missing)


def count_rows(conn: Connection, schema: str, sobject: str) -> tuple[int, int]:
    """(live rows, rows with a value that did not fit) in `sobject`'s table: the dashboard's Database/Errored Rows."""
    target = qualified_name(schema, table_name(sobject))
    live, errored = conn.execute(
        text(f"select count(*) filter (where not isdeleted), count(*) filter (where _hc_err is not null) from {target}")
    ).one()
    return live, errored
