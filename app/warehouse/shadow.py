"""Full reloads through a shadow table: load it without secondary indexes, then swap it in atomically.

Readers of the table, and of every view over it, see the old rows until the caller commits and
the new rows after; never an empty or half-loaded table (Heroku Connect's reload empties the table).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from app.warehouse import WarehouseError
from app.warehouse.counts import is_tracked, refresh_view_counts, track_live_rows
from app.warehouse.dependents import (
    RELATION_GRANTS,
    Grant,
    apply_comments,
    apply_grants,
    create_views,
    drop_views,
    find_dependent_views,
)
from app.warehouse.identifiers import MAX_IDENTIFIER_BYTES, qualified_name, quote_identifier
from app.warehouse.tables import (
    STANDARD_INDEXES,
    create_indexes,
    create_table,
    index_name,
    lock_name,
    mapped_columns,
    read_columns,
    table_name,
)
from app.warehouse.types import SYSTEM_COLUMNS, Column

SHADOW_SUFFIX = "__shadow"

OTHER_INDEXES = text(
    """
    select index_class.relname as name, pg_get_indexdef(index.indexrelid) as definition, index.indisunique as is_unique
    from pg_index index join pg_class index_class on index_class.oid = index.indexrelid
    where index.indrelid = to_regclass(:relation) and not index.indisprimary
    order by index_class.relname
    """
)


def shadow_name(table: str) -> str:
    """The shadow table of `table`."""
    return table + SHADOW_SUFFIX


def create_shadow(conn: Connection, schema: str, sobject: str, columns: Sequence[Column]) -> str:
    """Creates an empty shadow of `sobject`'s table, without indexes, and returns its name (for copy_csv_into).

    It has the system columns, `columns` with their new types, and the live table's other columns
    (fields no longer mapped stay, so views over them survive the swap). A leftover shadow from an
    interrupted reload is dropped first.
    """
    table = table_name(sobject)
    shadow = shadow_name(table)
    lock_name(conn, schema, table)
    conn.execute(text(f"drop table if exists {qualified_name(schema, shadow)}"))
    wanted = mapped_columns(columns)
    names = {column.name for column in wanted}
    kept = [
        Column(name, sql_type, name)
        for name, sql_type in read_columns(conn, schema, table).items()
        if name not in names and name not in SYSTEM_COLUMNS
    ]
    create_table(conn, schema, shadow, wanted + kept)
    # Rows loaded by COPY are inserts; the default goes again at the swap.
    conn.execute(text(f"alter table {qualified_name(schema, shadow)} alter column _hc_lastop set default 'INSERTED'"))
    return shadow


def swap_shadow(conn: Connection, schema: str, sobject: str, *, hard_delete: bool = False) -> None:
    """Builds the shadow's indexes, then replaces the live table by it, in the caller's transaction.

    Rows loaded with IsDeleted true (a queryAll reload) get `_hc_lastop` DELETED, or are removed
    when `hard_delete` (the org's delete_mode is "hard"). Dependent views (recursively) are
    dropped and recreated with their comments and grants; the live table's comment, owner, grants
    and extra indexes carry over. Raises WarehouseError when there is no shadow, or when the
    shadow holds one Id twice.
    """
    table = table_name(sobject)
    lock_name(conn, schema, table)
    renames = prepare_shadow(conn, schema, table, hard_delete=hard_delete)
    replace_live_table(conn, schema, table, renames)


def prepare_shadow(conn: Connection, schema: str, table: str, *, hard_delete: bool) -> list[tuple[str, str]]:
    """Marks deleted rows and builds every index on `table`'s shadow; returns the (temporary, final) index names."""
    shadow = shadow_name(table)
    relation = qualified_name(schema, shadow)
    if conn.execute(text("select to_regclass(:relation)"), {"relation": relation}).scalar() is None:
        raise WarehouseError(f"there is no shadow table {schema}.{shadow} to swap in: call create_shadow first")
    conn.execute(text(f"alter table {relation} alter column _hc_lastop drop default"))
    if hard_delete:
        conn.execute(text(f"delete from {relation} where isdeleted"))
    else:
        conn.execute(text(f"update {relation} set _hc_lastop = 'DELETED' where isdeleted"))
    temporary = [index_name("s_" + template, table) for template in STANDARD_INDEXES]
    savepoint = conn.begin_nested()
    try:
        create_indexes(conn, schema, shadow, temporary)
    except IntegrityError as error:
        savepoint.rollback()
        if not isinstance(error.orig, psycopg.errors.UniqueViolation):
            raise
        raise WarehouseError(
            f"the reload of {schema}.{table} holds some Ids more than once ({error.orig.diag.message_detail}): "
            "the extraction returned overlapping pages; run the full sync again"
        ) from error
    savepoint.commit()
    renames = [(temporary[n], index_name(template, table)) for n, template in enumerate(STANDARD_INDEXES)]
    if read_columns(conn, schema, table):
        renames += copy_other_indexes(conn, schema, table, shadow)
        copy_table_properties(conn, schema, table, shadow)
    # Statistics for the keys now (a full ANALYZE of 40 columns costs as much as the index builds);
    # autovacuum analyzes the rest soon after the swap.
    conn.execute(text(f"analyze {relation} (id, sfid, systemmodstamp, isdeleted)"))
    return renames


def replace_live_table(conn: Connection, schema: str, table: str, renames: list[tuple[str, str]]) -> None:
    """Drops `table` (suspending its views); renames its prepared shadow, with its indexes and sequence, into place."""
    live = qualified_name(schema, table)
    exists = bool(read_columns(conn, schema, table))
    views = find_dependent_views(conn, schema, table) if exists else []
    counted = exists and is_tracked(conn, live)
    drop_views(conn, views)
    if exists:
        conn.execute(text(f"drop table {live}"))
    conn.execute(text(f"alter table {qualified_name(schema, shadow_name(table))} rename to {quote_identifier(table)}"))
    (temporary_pkey, pkey), *indexes = renames
    conn.execute(
        text(f"alter table {live} rename constraint {quote_identifier(temporary_pkey)} to {quote_identifier(pkey)}")
    )
    for temporary, final in indexes:
        conn.execute(text(f"alter index {qualified_name(schema, temporary)} rename to {quote_identifier(final)}"))
    # pg_get_serial_sequence returns the name already quoted and qualified by PostgreSQL.
    sequence = conn.execute(text("select pg_get_serial_sequence(:relation, 'id')"), {"relation": live}).scalar_one()
    conn.execute(text(f"alter sequence {sequence} rename to {quote_identifier(index_name('{}_id_seq', table))}"))
    create_views(conn, views)
    if counted:  # the views' counts go on from the new table's rows, committed with them
        track_live_rows(conn, live)
        refresh_view_counts(conn, [qualified_name(view.schema, view.name) for view in views if not view.materialized])


def copy_other_indexes(conn: Connection, schema: str, table: str, shadow: str) -> list[tuple[str, str]]:
    """Builds on the shadow the live table's indexes beyond the standard ones; returns (temporary, final) names."""
    standard = {index_name(template, table) for template in STANDARD_INDEXES}
    renames = []
    for index in conn.execute(OTHER_INDEXES, {"relation": qualified_name(schema, table)}):
        if index.name in standard:
            continue
        # pg_get_indexdef: CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING method (...) [...]
        method_and_rest = index.definition[index.definition.index(" USING ") :]
        temporary = ("s_" + index.name)[:MAX_IDENTIFIER_BYTES]
        unique = "unique " if index.is_unique else ""
        conn.execute(
            text(
                f"create {unique}index {quote_identifier(temporary)} "
                f"on {qualified_name(schema, shadow)}{method_and_rest}"
            )
        )
        renames.append((temporary, index.name))
    return renames


def copy_table_properties(conn: Connection, schema: str, table: str, shadow: str) -> None:
    """Gives the shadow the live table's owner, comment, column comments and grants."""
    live, relation = qualified_name(schema, table), qualified_name(schema, shadow)
    owner, comment = conn.execute(
        text(
            "select pg_get_userbyid(relowner), obj_description(oid, 'pg_class') "
            "from pg_class where oid = to_regclass(:relation)"
        ),
        {"relation": live},
    ).one()
    conn.execute(text(f"alter table {relation} owner to {quote_identifier(owner)}"))
    column_comments = conn.execute(
        text(
            """
            select attname, col_description(attrelid, attnum) from pg_attribute
            where attrelid = to_regclass(:relation) and attnum > 0 and not attisdropped
              and col_description(attrelid, attnum) is not null and attname in (
                  select attname from pg_attribute where attrelid = to_regclass(:shadow) and attnum > 0)
            order by attnum
            """
        ),
        {"relation": live, "shadow": relation},
    ).all()
    apply_comments(conn, relation, "table", comment, column_comments)
    oid = conn.execute(text("select to_regclass(:relation)::oid"), {"relation": live}).scalar_one()
    apply_grants(conn, relation, tuple(Grant(*grant) for grant in conn.execute(RELATION_GRANTS, {"oid": oid})))
