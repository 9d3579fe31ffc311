"""Suspending the views that depend on a table while its columns change type or the table is replaced.

PostgreSQL binds views to table OIDs and refuses to ALTER a column a view uses, so both a shadow
swap and a column widening save every dependent view (recursively: views over views, materialized
views too), drop them, do their work, and recreate the views with their options, comments, owner
and grants — all inside the caller's transaction, so other sessions never see the views missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, text

from app.warehouse.identifiers import qualified_name, quote_identifier


@dataclass(frozen=True)
class Grant:
    """One privilege on a relation; grantee "" is PUBLIC."""

    grantee: str
    privilege: str
    grantable: bool


@dataclass(frozen=True)
class SavedView:
    """Everything needed to recreate one view or materialized view exactly."""

    schema: str
    name: str
    materialized: bool
    definition: str  # pg_get_viewdef under an empty search_path: every name schema-qualified
    options: tuple[str, ...]  # reloptions, e.g. security_barrier=true
    owner: str
    populated: bool
    comment: str | None
    column_comments: tuple[tuple[str, str], ...]
    grants: tuple[Grant, ...]
    indexes: tuple[str, ...]  # materialized views only: CREATE INDEX statements


DEPENDENT_VIEWS = text(
    """
    with recursive dependents(oid, depth) as (
        select rewrite.ev_class, 1
        from pg_depend depend join pg_rewrite rewrite on rewrite.oid = depend.objid
        where depend.classid = 'pg_rewrite'::regclass and depend.refclassid = 'pg_class'::regclass
          and depend.refobjid = cast(:relation as regclass) and rewrite.ev_class <> depend.refobjid
        union
        select rewrite.ev_class, dependents.depth + 1
        from dependents
        join pg_depend depend on depend.refobjid = dependents.oid
             and depend.classid = 'pg_rewrite'::regclass and depend.refclassid = 'pg_class'::regclass
        join pg_rewrite rewrite on rewrite.oid = depend.objid
        where rewrite.ev_class <> dependents.oid and dependents.depth < 100
    )
    select dependents.oid, max(depth) as depth
    from dependents
    group by dependents.oid
    order by max(depth), dependents.oid
    """
)

VIEW_DETAILS = text(
    """
    select namespace.nspname as schema, class.relname as name, class.relkind = 'm' as materialized,
           pg_get_viewdef(class.oid) as definition, coalesce(class.reloptions, '{}') as options,
           pg_get_userbyid(class.relowner) as owner, class.relispopulated as populated,
           obj_description(class.oid, 'pg_class') as comment,
           array(select indexdef from pg_indexes
                 where schemaname = namespace.nspname and tablename = class.relname order by indexname) as indexes
    from pg_class class join pg_namespace namespace on namespace.oid = class.relnamespace
    where class.oid = :oid
    """
)

COLUMN_COMMENTS = text(
    """
    select attribute.attname, description.description
    from pg_description description
    join pg_attribute attribute on attribute.attrelid = description.objoid and attribute.attnum = description.objsubid
    where description.classoid = 'pg_class'::regclass and description.objoid = :oid and description.objsubid > 0
    order by attribute.attnum
    """
)

RELATION_GRANTS = text(
    """
    select coalesce(pg_get_userbyid(nullif(acl.grantee, 0)), '') as grantee, acl.privilege_type, acl.is_grantable
    from pg_class class, aclexplode(class.relacl) acl
    where class.oid = :oid and acl.grantee <> class.relowner
    order by 1, 2
    """
)


def lock_view_rewrites(conn: Connection) -> None:
    """Serializes, until the caller's transaction ends, every transaction that drops and recreates views.

    Without it two full reloads under one view (contact and account under global_contact) race: the
    second reads the view's OID, the first commits a recreated view, and the second fails with
    "could not open relation with OID …".
    """
    conn.execute(text("select pg_advisory_xact_lock(hashtextextended('ddl/view-rewrites', 1))"))


def find_dependent_views(conn: Connection, schema: str, table: str) -> list[SavedView]:
    """The views depending on `schema`.`table`, directly or through other views, in creation order.

    Takes the view-rewrite lock first, so the views found stay as they are until the caller commits.
    """
    lock_view_rewrites(conn)
    rows = conn.execute(DEPENDENT_VIEWS, {"relation": qualified_name(schema, table)}).all()
    if not rows:
        return []
    previous_path = conn.execute(text("select current_setting('search_path')")).scalar_one()
    conn.execute(text("select set_config('search_path', '', true)"))
    try:
        return [save_view(conn, row.oid) for row in rows]
    finally:
        conn.execute(text("select set_config('search_path', :path, true)"), {"path": previous_path})


def save_view(conn: Connection, oid: int) -> SavedView:
    """The definition, options, owner, comments, grants (and indexes) of the view with `oid`."""
    row = conn.execute(VIEW_DETAILS, {"oid": oid}).one()
    return SavedView(
        schema=row.schema,
        name=row.name,
        materialized=row.materialized,
        definition=row.definition.strip().rstrip(";"),
        options=tuple(row.options),
        owner=row.owner,
        populated=row.populated,
        comment=row.comment,
        column_comments=tuple((name, comment) for name, comment in conn.execute(COLUMN_COMMENTS, {"oid": oid})),
        grants=tuple(Grant(*grant) for grant in conn.execute(RELATION_GRANTS, {"oid": oid})),
        indexes=tuple(row.indexes) if row.materialized else (),
    )


def drop_views(conn: Connection, views: list[SavedView]) -> None:
    """Drops `views`, dependents first (the reverse of their creation order)."""
    for view in reversed(views):
        kind = "materialized view" if view.materialized else "view"
        conn.execute(text(f"drop {kind} {qualified_name(view.schema, view.name)}"))


def create_views(conn: Connection, views: list[SavedView]) -> None:
    """Recreates `views` in order, with their options, owner, comments, grants and indexes."""
    for view in views:
        name = qualified_name(view.schema, view.name)
        options = f" with ({', '.join(view.options)})" if view.options else ""
        if view.materialized:
            data = "with data" if view.populated else "with no data"
            conn.execute(text(f"create materialized view {name}{options} as {view.definition} {data}"))
            for index in view.indexes:
                conn.execute(text(index))
        else:
            conn.execute(text(f"create view {name}{options} as {view.definition}"))
        kind = "materialized view" if view.materialized else "view"
        conn.execute(text(f"alter {kind} {name} owner to {quote_identifier(view.owner)}"))
        apply_comments(conn, name, kind, view.comment, view.column_comments)
        apply_grants(conn, name, view.grants)


def apply_comments(
    conn: Connection, name: str, kind: str, comment: str | None, column_comments: Iterable[tuple[str, str]]
) -> None:
    """Sets the comment of relation `name` (already quoted) and of its columns."""
    if comment is not None:
        conn.execute(text(f"comment on {kind} {name} is {literal(conn, comment)}"))
    for column, column_comment in column_comments:
        conn.execute(text(f"comment on column {name}.{quote_identifier(column)} is {literal(conn, column_comment)}"))


def apply_grants(conn: Connection, name: str, grants: tuple[Grant, ...]) -> None:
    """Grants `grants` on relation `name` (already quoted)."""
    for grant in grants:
        grantee = quote_identifier(grant.grantee) if grant.grantee else "public"
        option = " with grant option" if grant.grantable else ""
        conn.execute(text(f"grant {grant.privilege} on {name} to {grantee}{option}"))


def literal(conn: Connection, value: str) -> str:
    """`value` as a SQL string literal; COMMENT ON takes no bound parameters, so quote_literal does it."""
    return conn.execute(text("select quote_literal(cast(:value as text))"), {"value": value}).scalar_one()


@contextmanager
def suspended_views(conn: Connection, schema: str, table: str) -> Iterator[list[SavedView]]:
    """Drops the views over `schema`.`table` for the duration of the block and recreates them after it.

    The caller's transaction makes this invisible to other sessions; if the block raises, the
    views are not recreated and the caller's rollback restores them.
    """
    views = find_dependent_views(conn, schema, table)
    drop_views(conn, views)
    yield views
    create_views(conn, views)
