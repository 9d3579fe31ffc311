"""The columns of the org tables, read from PostgreSQL's catalog (the only input views are built from)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class TableColumn:
    name: str
    sql_type: str  # as format_type prints it: "character varying(80)", "numeric(18,2)", ...
    not_null: bool
    collation: str | None = None  # a non-default collation, e.g. "C"


Catalog = dict[tuple[str, str], list[TableColumn]]  # (schema, table) -> columns in ordinal order


def read_catalog(conn: Connection, schemas: list[str]) -> Catalog:
    """Every table's columns in `schemas`, in column order."""
    rows = conn.execute(
        text("""
        select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               case when a.attcollation <> t.typcollation then co.collname end
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        join pg_type t on t.oid = a.atttypid
        left join pg_collation co on co.oid = a.attcollation
        where n.nspname = any(:schemas) and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
          and c.relname not like '%\\_\\_shadow' and c.relname not like '\\_%'
        order by n.nspname, c.relname, a.attnum
    """),
        {"schemas": schemas},
    ).all()
    catalog: Catalog = {}
    for schema, table, name, sql_type, not_null, collation in rows:
        catalog.setdefault((schema, table), []).append(TableColumn(name, sql_type, not_null, collation))
    return catalog
