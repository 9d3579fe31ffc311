"""Applying generated view files to the database: every file in one transaction, all or nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.views import ViewError
from app.views.render import VIEW_SCHEMA
from app.views.scopes import drop_scope, read_scopes, rebuild_scopes
from app.warehouse.dependents import lock_view_rewrites
from app.warehouse.identifiers import quote_identifier, sql_identifier

COLLISIONS_SHOWN = 5


def apply_views(engine: Engine, files: dict[str, str], settings: Settings) -> list[str]:
    """Applies every file (name -> SQL) in one transaction and returns the view names applied.

    When `create or replace view` cannot express a change (a column dropped, renamed or retyped),
    the view is dropped and created again in the same transaction. Ids colliding across orgs
    roll everything back with a ViewError naming them.
    """
    strategies = {view.name: view.id_strategy for view in settings.views}
    applied = []
    with engine.begin() as conn:
        lock_view_rewrites(conn)  # a concurrent full reload must not read a view this transaction replaces
        scopes = read_scopes(conn)  # scoped feeds' views sit on the union views: rebuilt after them
        for scope in scopes:
            drop_scope(conn, scope.feed)
        for name in sorted(files):
            view = name.removesuffix(".sql")
            readers = _select_grantees(conn, view)
            _apply_file(conn, view, files[name])
            # A view dropped and created again (a changed column, a materialized view) loses its
            # grants; the feeds' read roles must keep reading it.
            for role in readers:
                conn.exec_driver_sql(
                    f"grant select on {VIEW_SCHEMA}.{sql_identifier(view)} to {quote_identifier(role)}"
                )
            applied.append(view)
        for view in applied:
            _refuse_collisions(conn, view, strategies.get(view, "sfid"))
        rebuild_scopes(conn, scopes)
    return applied


FROM_TABLE = re.compile(r"^\s+from ([a-z_][a-z0-9_]*|\"[^\"]+\")\.([a-z_][a-z0-9_]*|\"[^\"]+\")$", re.MULTILINE)
LOOKUP_TABLE = re.compile(r"\(select parent\.\S+ from (\S+)\.(\S+) as parent ")


def tables_of(sql: str) -> set[tuple[str, str]]:
    """The (schema, table) pairs a generated view file reads."""
    pairs = {(schema, table) for schema, table in FROM_TABLE.findall(sql)}
    pairs |= set(LOOKUP_TABLE.findall(sql))
    return {(schema.strip('"'), table.strip('"')) for schema, table in pairs}


def views_without_tables(engine: Engine, files: dict[str, str]) -> dict[str, str]:
    """View name -> the first table it reads that does not exist, for views that cannot be applied yet."""
    missing = {}
    with engine.connect() as conn:
        for name in sorted(files):
            for schema, table in sorted(tables_of(files[name])):
                if conn.execute(text("select to_regclass(:name)"), {"name": f'"{schema}"."{table}"'}).scalar() is None:
                    missing[name.removesuffix(".sql")] = f"table {schema}.{table}"
                    break
    return missing


def views_not_in_database(engine: Engine, names: list[str]) -> list[str]:
    """Those of `names` that are neither a view nor a materialized view in the view schema."""
    with engine.connect() as conn:
        present = set(
            conn.execute(
                text(
                    "select viewname from pg_views where schemaname = :s "
                    "union select matviewname from pg_matviews where schemaname = :s"
                ),
                {"s": VIEW_SCHEMA},
            ).scalars()
        )
    return [name for name in names if name not in present]


def _select_grantees(conn: Connection, view: str) -> Sequence[str]:
    """Roles other than the owner that may SELECT the view now."""
    # pg_class's ACL, not information_schema: the latter does not list materialized views.
    return (
        conn.execute(
            text(
                "select distinct r.rolname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "cross join lateral aclexplode(c.relacl) acl join pg_roles r on r.oid = acl.grantee "
                "where n.nspname = :s and c.relname = :v and acl.privilege_type = 'SELECT' "
                "and acl.grantee <> c.relowner "
                "order by r.rolname"
            ),
            {"s": VIEW_SCHEMA, "v": view},
        )
        .scalars()
        .all()
    )


def _apply_file(conn: Connection, view: str, sql: str) -> None:
    savepoint = conn.begin_nested()
    try:
        conn.exec_driver_sql(sql)
        savepoint.commit()
        return
    except DBAPIError as error:
        savepoint.rollback()
        if "pg_trgm" in _first_line(error) or "gin_trgm_ops" in _first_line(error):
            raise ViewError(
                f"view {view}: its searchable columns need PostgreSQL's pg_trgm extension, which this server cannot "
                f"provide ({_first_line(error)}): install the server's contrib package (Debian and Ubuntu: "
                "postgresql-contrib), or have a superuser run `create extension pg_trgm`, or drop `searchable` "
                "from the view"
            ) from error
        if not isinstance(error.orig, psycopg.errors.InvalidTableDefinition):
            raise ViewError(f"view {view}: applying sql/views/{view}.sql failed: {_first_line(error)}") from error
    # 42P16: create or replace cannot drop, rename or retype a column; drop the view and create it anew.
    try:
        conn.exec_driver_sql(f"drop view if exists {VIEW_SCHEMA}.{sql_identifier(view)}")
    except DBAPIError as error:
        raise ViewError(
            f"view {view}: its columns changed, so it must be dropped and created again, but other "
            f"objects depend on it: {_first_line(error)}. Drop or change them first."
        ) from error
    conn.exec_driver_sql(sql)


def _refuse_collisions(conn: Connection, view: str, strategy: str) -> None:
    rows = conn.execute(
        text(
            f"select id, string_agg(geo, ', ' order by geo) from {VIEW_SCHEMA}.{sql_identifier(view)} "
            f"group by id having count(*) > 1 order by id limit {COLLISIONS_SHOWN + 1}"
        )
    ).all()
    if rows:
        shown = "; ".join(f"{record_id} (in {geos})" for record_id, geos in rows[:COLLISIONS_SHOWN])
        more = " and more" if len(rows) > COLLISIONS_SHOWN else ""
        hint = (
            'set id_strategy = "geo_prefixed" on the view so each id carries its geo'
            if strategy == "sfid"
            else "the geo values of its orgs must differ"
        )
        raise ViewError(
            f"view {view}: ids collide across orgs (a sandbox copied from production?): {shown}{more}. "
            f"Nothing was applied: {hint}."
        )


def refresh_materialized_views(engine: Engine, settings: Settings) -> list[str]:
    """Refreshes every materialized view concurrently (readers keep the old rows until it finishes)."""
    refreshed = []
    for view in settings.views:
        if not view.materialized:
            continue
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            exists = conn.execute(
                text("select 1 from pg_matviews where schemaname = :s and matviewname = :v"),
                {"s": VIEW_SCHEMA, "v": view.name},
            ).first()
            if exists:
                conn.exec_driver_sql(
                    f"refresh materialized view concurrently {VIEW_SCHEMA}.{sql_identifier(view.name)}"
                )
                refreshed.append(view.name)
    return refreshed


def _first_line(error: DBAPIError) -> str:
    return str(error.orig).splitlines()[0] if error.orig else str(error).splitlines()[0]
