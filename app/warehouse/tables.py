"""Per-org schemas and their tables: creating them, checking which org owns a schema, and evolving columns.

Layout (Heroku Connect compatible): one schema per org, one table per object named lower(object),
system columns first, then the mapped fields. Every DDL statement runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from app.warehouse import WarehouseError
from app.warehouse.dependents import literal, suspended_views
from app.warehouse.identifiers import MAX_IDENTIFIER_BYTES, qualified_name, quote_identifier
from app.warehouse.types import SYSTEM_COLUMNS, Column, normalized_type, widened_type

META_TABLE = "_orgfeed_meta"

# The system columns every mirrored table starts with, in order.
SYSTEM_COLUMN_DDL = (
    ("id", "serial"),
    ("sfid", 'varchar(18) collate "C" not null'),  # bytewise: fast, and Salesforce ids are case-sensitive
    ("systemmodstamp", "timestamptz not null"),
    ("isdeleted", "boolean not null default false"),
    ("createddate", "timestamptz"),
    ("_hc_lastop", "varchar(32)"),  # INSERTED | UPDATED | DELETED
    ("_hc_err", "text"),  # JSON {"column", "value", "error"} when a value did not fit its column
)


class SchemaOwnedByAnotherOrg(WarehouseError):
    """The schema holds another Salesforce org's data; nothing was written."""


@dataclass(frozen=True)
class TableChanges:
    """What ensure_table did to one table; `widened` and `incompatible` hold (column, old type, new type)."""

    created: bool = False
    added: tuple[str, ...] = ()
    widened: tuple[tuple[str, str, str], ...] = ()
    incompatible: tuple[tuple[str, str, str], ...] = ()
    text_fallbacks: tuple[str, ...] = ()  # columns stored as text because their describe type is unknown


def table_name(sobject: str) -> str:
    """The table mirroring `sobject`: its API name lower-cased (Heroku Connect's rule)."""
    name = sobject.lower()
    if not name or len(name.encode()) > MAX_IDENTIFIER_BYTES - len("__shadow"):
        raise WarehouseError(f"object {sobject!r} cannot be mirrored: its table name would be empty or too long")
    return name


def lock_name(conn: Connection, *parts: str) -> None:
    """Takes a transaction-level advisory lock on `parts`, serializing DDL of concurrent workers."""
    conn.execute(text("select pg_advisory_xact_lock(hashtextextended(:key, 1))"), {"key": "/".join(("ddl", *parts))})


def ensure_org_schema(conn: Connection, schema: str, org_id: str | None, org_name: str) -> None:
    """Creates `schema` and its meta table for org `org_id`, or checks that the existing schema is that org's.

    Raises SchemaOwnedByAnotherOrg, before writing anything, when the schema records another org
    id (a sandbox refresh or a config mix-up), and WarehouseError when the schema has tables but
    no meta table (something other than orgfeed filled it). An unknown `org_id` (None or "": a
    `session` token that does not say) skips the check and records no owner; the first sync that
    knows the org id claims the schema.
    """
    lock_name(conn, schema)
    exists = conn.execute(text("select 1 from pg_namespace where nspname = :schema"), {"schema": schema}).first()
    meta = qualified_name(schema, META_TABLE)
    if exists:
        has_meta = conn.execute(text("select to_regclass(:meta) is not null"), {"meta": meta}).scalar_one()
        if has_meta:
            owner = conn.execute(text(f"select org_id from {meta} limit 1")).scalar()
            if owner is not None and org_id and owner != org_id:
                raise SchemaOwnedByAnotherOrg(
                    f"schema {schema!r} holds org {owner}'s data, but the configured org {org_name!r} logged in to "
                    f"org {org_id}: a sandbox refresh or a config mix-up? Check login_url and credentials, "
                    "or drop the schema to start over."
                )
            if owner is not None or not org_id:
                return
        elif list_tables(conn, schema):
            raise WarehouseError(
                f"schema {schema!r} already has tables but no {META_TABLE} table, so orgfeed did not create it: "
                "rename the org in orgfeed.toml, or drop the schema, or set managed_by for a schema another tool fills."
            )
    conn.execute(text(f"create schema if not exists {quote_identifier(schema)}"))
    conn.execute(
        text(
            f"create table if not exists {meta} (org_id varchar(18) not null, org_name text, "
            "created_at timestamptz not null default now())"
        )
    )
    if org_id:
        conn.execute(
            text(f"insert into {meta} (org_id, org_name) values (:org_id, :org_name)"),
            {"org_id": org_id, "org_name": org_name},
        )


def list_tables(conn: Connection, schema: str) -> list[str]:
    """The names of the ordinary tables in `schema`, sorted."""
    return list(
        conn.execute(
            text("select tablename from pg_tables where schemaname = :schema order by tablename"), {"schema": schema}
        ).scalars()
    )


def read_columns(conn: Connection, schema: str, table: str) -> dict[str, str]:
    """The columns of `schema`.`table` and their normalized types, in table order; empty when it does not exist."""
    rows = conn.execute(
        text(
            """
            select attribute.attname, format_type(attribute.atttypid, attribute.atttypmod)
            from pg_attribute attribute
            where attribute.attrelid = to_regclass(:relation) and attribute.attnum > 0 and not attribute.attisdropped
            order by attribute.attnum
            """
        ),
        {"relation": qualified_name(schema, table)},
    ).all()
    return {name: normalized_type(sql_type) for name, sql_type in rows}


def mapped_columns(columns: Sequence[Column]) -> list[Column]:
    """`columns` without the system columns (Id, SystemModstamp, ...) and without repeats."""
    seen: set[str] = set(SYSTEM_COLUMNS)
    kept = []
    for column in columns:
        if column.name not in seen:
            seen.add(column.name)
            kept.append(column)
    return kept


def create_table(conn: Connection, schema: str, table: str, columns: Sequence[Column]) -> None:
    """Creates `schema`.`table` with the system columns, `columns`, and no indexes."""
    definitions = [f"{quote_identifier(name)} {ddl}" for name, ddl in SYSTEM_COLUMN_DDL]
    definitions += [f"{quote_identifier(column.name)} {column.sql_type}" for column in mapped_columns(columns)]
    conn.execute(text(f"create table {qualified_name(schema, table)} (\n  " + ",\n  ".join(definitions) + "\n)"))


STANDARD_INDEXES = ("{}_pkey", "hcu_idx_{}_sfid", "hc_idx_{}_systemmodstamp")


def index_name(template: str, table: str) -> str:
    """`template` (e.g. "hc_idx_{}_sfid") filled with as much of `table` as PostgreSQL's name limit allows."""
    room = MAX_IDENTIFIER_BYTES - len(template.format(""))
    return template.format(table[:room])


def create_indexes(conn: Connection, schema: str, table: str, names: Sequence[str] | None = None) -> None:
    """Builds the primary key, the unique sfid index and the systemmodstamp index on `schema`.`table`.

    `names` (primary key, sfid, systemmodstamp) default to Heroku Connect's names for `table`
    (`<t>_pkey`, `hcu_idx_<t>_sfid`, `hc_idx_<t>_systemmodstamp`); a shadow passes temporary ones.
    """
    pkey, sfid, systemmodstamp = names or [index_name(template, table) for template in STANDARD_INDEXES]
    relation = qualified_name(schema, table)
    conn.execute(text(f"alter table {relation} add constraint {quote_identifier(pkey)} primary key (id)"))
    conn.execute(text(f"create unique index {quote_identifier(sfid)} on {relation} (sfid)"))
    conn.execute(text(f"create index {quote_identifier(systemmodstamp)} on {relation} (systemmodstamp)"))


def ensure_table(conn: Connection, schema: str, sobject: str, columns: Sequence[Column]) -> TableChanges:
    """Creates the table mirroring `sobject` or evolves it towards `columns`, returning what changed.

    New columns are added; safe type changes (see types.widened_type) are applied with dependent
    views suspended and recreated; other type changes are reported in `incompatible`, not applied.
    Columns the table has but `columns` lacks are left alone (removed fields keep their data).
    """
    table = table_name(sobject)
    lock_name(conn, schema, table)
    wanted = mapped_columns(columns)
    fallbacks = tuple(column.name for column in wanted if column.fallback)
    existing = read_columns(conn, schema, table)
    if not existing:
        create_table(conn, schema, table, wanted)
        create_indexes(conn, schema, table)
        return TableChanges(created=True, added=tuple(column.name for column in wanted), text_fallbacks=fallbacks)
    relation = qualified_name(schema, table)
    added, widened, incompatible = [], [], []
    for column in wanted:
        old = existing.get(column.name)
        if old is None:
            conn.execute(text(f"alter table {relation} add column {quote_identifier(column.name)} {column.sql_type}"))
            added.append(column.name)
            continue
        target = widened_type(old, column.sql_type)
        if target is None:
            incompatible.append((column.name, old, normalized_type(column.sql_type)))
        elif target != old:
            widened.append((column.name, old, target))
    if widened:
        with suspended_views(conn, schema, table):
            for name, _old, target in widened:
                conn.execute(text(f"alter table {relation} alter column {quote_identifier(name)} type {target}"))
    return TableChanges(False, tuple(added), tuple(widened), tuple(incompatible), fallbacks)


def set_column_comments(conn: Connection, schema: str, sobject: str, comments: dict[str, str | None]) -> None:
    """Sets (or, for None, removes) the comments of `sobject`'s table's columns that exist."""
    table = table_name(sobject)
    existing = read_columns(conn, schema, table)
    relation = qualified_name(schema, table)
    for column, comment in comments.items():
        if column in existing:
            value = "null" if comment is None else literal(conn, comment)
            conn.execute(text(f"comment on column {relation}.{quote_identifier(column)} is {value}"))
