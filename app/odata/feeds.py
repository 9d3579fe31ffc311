"""Feeds and their credentials: what `orgfeed feeds ...` and `orgfeed credentials ...` do.

A feed is a row in `orgfeed.feeds` (name, views, read role, scope). Its read role is a NOLOGIN role
`orgfeed_feed_<name>` with USAGE on schema public and SELECT on exactly the feed's views (a scoped
feed: on its scoped views in schema `orgfeed_feed_<name>` only, see app.views.scopes), granted
to the current user so requests can `SET LOCAL ROLE` to it. Where CREATE ROLE is not allowed
(Heroku Postgres), the feed has no role (role_name NULL) and relies on read-only transactions.
Credentials: one active per feed; a reset keeps the old one valid for RESET_GRACE.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import psycopg
from psycopg import sql
from sqlalchemy import Connection, Engine, Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError

from app.odata import FeedError
from app.odata.catalog import VIEW_SCHEMA
from app.odata.credentials import generate_password, generate_username, hash_password
from app.views import ViewError
from app.views.scopes import FeedScope, build_scope, drop_scope, read_scopes
from app.warehouse.metadata import feed_credentials, feeds

FEED_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
ROLE_PREFIX = "orgfeed_feed_"
RESET_GRACE = timedelta(minutes=10)  # Heroku External Objects parity: old and new both work for 10 minutes
PROTECTION_ROLE = "read role"
PROTECTION_READ_ONLY = "read-only transactions (no read role)"


@dataclass(frozen=True)
class Credential:
    feed: str
    username: str
    password: str | None  # known only right after creation or reset
    service_url: str


@dataclass(frozen=True)
class FeedCreated:
    name: str
    views: tuple[str, ...]
    missing_views: tuple[str, ...]  # named but not (yet) in the database: absent from the feed until they exist
    role_name: str | None
    role_problem: str | None  # why there is no read role
    credential: Credential | None  # None when the feed already existed (its credentials are unchanged)
    geos: tuple[str, ...] | None = None  # a scoped feed's geos (None: every geo)
    hidden: tuple[str, ...] = ()
    writable: bool = False
    default_geo: str | None = None


@dataclass(frozen=True)
class FeedInfo:
    name: str
    views: tuple[str, ...]
    role_name: str | None
    active_credentials: int
    created_at: datetime
    service_url: str
    writable: bool = False

    @property
    def protection(self) -> str:
        return f"{PROTECTION_ROLE} {self.role_name}" if self.role_name else PROTECTION_READ_ONLY


def service_url(base_url: str, feed: str) -> str:
    """The feed's service root: `<base_url>/odata/v4/<feed>/`."""
    return f"{base_url.rstrip('/')}/odata/v4/{feed}/"


def role_name_for(feed: str) -> str:
    return ROLE_PREFIX + feed


def create_feed(
    engine: Engine,
    name: str,
    views: Sequence[str],
    *,
    base_url: str,
    geos: Sequence[str] | None = None,
    hide: Sequence[str] = (),
    writable: bool = False,
    default_geo: str | None = None,
) -> FeedCreated:
    """Creates feed `name` (or updates its views, scope, writability and grants), its read role and a new credential.

    With `geos` or `hide` the feed is scoped: it reads views of its own schema holding only those geos'
    rows and without the hidden "view.column"s, and its role is granted those views alone. A writable
    feed's role stays read-only: writes go to the orgs, and the mirror rows through the app's engine.
    """
    if not FEED_NAME.match(name):
        raise FeedError(
            f"feed name {name!r}: use 1-50 lower-case letters, digits, '-' and '_', starting with a letter or digit"
        )
    views = tuple(dict.fromkeys(view.strip() for view in views if view.strip()))
    if not views:
        raise FeedError(f"feed {name!r}: name at least one view (--views A,B)")
    scoped = geos is not None or bool(hide)
    with engine.begin() as conn:
        existing = conn.execute(select(feeds.c.name).where(feeds.c.name == name)).first()
        present = _present_views(conn, views)
        granted = [] if scoped else [view for view in views if view in present]
        role, problem = _set_up_role(conn, role_name_for(name), granted)
        values = {
            "views": list(views),
            "role_name": role,
            "geos": list(geos) if geos is not None else None,
            "hidden": list(hide),
            "writable": writable,
            "default_geo": default_geo,
        }
        if existing:
            conn.execute(update(feeds).where(feeds.c.name == name).values(**values))
        else:
            conn.execute(insert(feeds).values(name=name, **values))
        if scoped:
            try:
                build_scope(conn, FeedScope(name, views, tuple(geos) if geos is not None else None, tuple(hide), role))
            except ViewError as error:
                raise FeedError(str(error)) from None
        else:
            drop_scope(conn, name)
        credential = None if existing else _add_credential(conn, name, generate_username(name), base_url)
    missing = tuple(view for view in views if view not in present)
    scope = tuple(geos) if geos is not None else None
    return FeedCreated(name, views, missing, role, problem, credential, scope, tuple(hide), writable, default_geo)


def refresh_grants(engine: Engine) -> list[str]:
    """Re-grants every feed's read role SELECT on its views that exist now; the names of the feeds refreshed.

    Call after views are dropped and re-created (a materialized view is rebuilt that way): PostgreSQL drops
    the grants with the view, and the feed would answer 503 until then.
    """
    refreshed = []
    with engine.begin() as conn:
        scoped = {scope.feed for scope in read_scopes(conn)}
        for name, views, role in conn.execute(
            select(feeds.c.name, feeds.c.views, feeds.c.role_name)
            .where(feeds.c.role_name.is_not(None))
            .order_by(feeds.c.name)
        ).all():
            if name in scoped:
                continue  # its views are rebuilt, grants included, with the union views (views.scopes)
            present = _present_views(conn, views)
            role_name, _ = _set_up_role(conn, role, [view for view in views if view in present])
            if role_name:
                refreshed.append(name)
    return refreshed


def _present_views(conn: Connection, views: Sequence[str]) -> set[str]:
    return set(
        conn.exec_driver_sql(
            "select relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %(schema)s and c.relname = any(%(views)s) and c.relkind in ('v', 'm', 'r', 'p', 'f')",
            {"schema": VIEW_SCHEMA, "views": list(views)},
        ).scalars()
    )


def _set_up_role(conn: Connection, role: str, views: list[str]) -> tuple[str | None, str | None]:
    """Creates or refreshes the read role; (None, why) when the database user may not create roles."""
    savepoint = conn.begin_nested()
    try:
        raw = cast(psycopg.Connection, conn.connection.driver_connection)  # SQLAlchemy types it Any: any driver's
        ident = sql.Identifier(role)
        if raw.execute("select 1 from pg_catalog.pg_roles where rolname = %s", (role,)).fetchone() is None:
            raw.execute(sql.SQL("create role {} nologin").format(ident))
        raw.execute(sql.SQL("grant {} to current_user").format(ident))
        raw.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(sql.Identifier(VIEW_SCHEMA), ident))
        raw.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(VIEW_SCHEMA), ident))
        if views:
            targets = sql.SQL(", ").join(sql.Identifier(VIEW_SCHEMA, view) for view in views)
            raw.execute(sql.SQL("grant select on {} to {}").format(targets, ident))
    except DBAPIError as error:
        savepoint.rollback()
        if isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
            first_line = str(error.orig).splitlines()[0]
            return None, f"the database user may not create or grant roles ({first_line})"
        raise
    except psycopg.errors.InsufficientPrivilege as error:
        savepoint.rollback()
        return None, f"the database user may not create or grant roles ({str(error).splitlines()[0]})"
    savepoint.commit()
    return role, None


def _add_credential(conn: Connection, feed: str, username: str, base_url: str) -> Credential:
    password = generate_password()
    conn.execute(insert(feed_credentials).values(feed=feed, username=username, password_hash=hash_password(password)))
    return Credential(feed, username, password, service_url(base_url, feed))


def list_feeds(engine: Engine, *, base_url: str) -> list[FeedInfo]:
    """Every feed, by name, with its protection and number of usable credentials."""
    usable = and_(
        feed_credentials.c.feed == feeds.c.name,
        feed_credentials.c.revoked_at.is_(None),
        or_(feed_credentials.c.expires_at.is_(None), feed_credentials.c.expires_at > func.now()),
    )
    active = select(func.count()).where(usable).scalar_subquery()
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                feeds.c.name, feeds.c.views, feeds.c.role_name, active, feeds.c.created_at, feeds.c.writable
            ).order_by(feeds.c.name)
        ).all()
    return [
        FeedInfo(name, tuple(views), role, count, created, service_url(base_url, name), writable)
        for name, views, role, count, created, writable in rows
    ]


def _active_credential(conn: Connection, feed: str) -> Row[int, str] | None:
    _require_feed(conn, feed)
    return conn.execute(
        select(feed_credentials.c.id, feed_credentials.c.username)
        .where(
            feed_credentials.c.feed == feed,
            feed_credentials.c.revoked_at.is_(None),
            feed_credentials.c.expires_at.is_(None),
        )
        .order_by(feed_credentials.c.id.desc())
    ).first()


def _require_feed(conn: Connection, feed: str) -> None:
    if conn.execute(select(feeds.c.name).where(feeds.c.name == feed)).first() is None:
        raise FeedError(
            f"no feed {feed!r}: create it with `orgfeed feeds create {feed} --views A,B` (see `orgfeed feeds list`)"
        )


def show_credentials(engine: Engine, feed: str, *, base_url: str) -> Credential:
    """The feed's current username and service URL (the password is stored hashed and cannot be shown)."""
    with engine.connect() as conn:
        row = _active_credential(conn, feed)
    if row is None:
        raise FeedError(f"feed {feed!r} has no active credential (revoked?): run `orgfeed credentials reset {feed}`")
    return Credential(feed, row.username, None, service_url(base_url, feed))


def reset_credentials(engine: Engine, feed: str, *, base_url: str) -> Credential:
    """A new password for the feed's user; the previous password keeps working for RESET_GRACE."""
    with engine.begin() as conn:
        row = _active_credential(conn, feed)
        username = row.username if row else generate_username(feed)
        conn.execute(
            update(feed_credentials)
            .where(
                feed_credentials.c.feed == feed,
                feed_credentials.c.revoked_at.is_(None),
                or_(feed_credentials.c.expires_at.is_(None), feed_credentials.c.expires_at > func.now() + RESET_GRACE),
            )
            .values(expires_at=func.now() + RESET_GRACE)
        )
        return _add_credential(conn, feed, username, base_url)


def revoke_credentials(engine: Engine, feed: str) -> int:
    """Ends every credential of the feed at once; returns how many were still usable."""
    with engine.begin() as conn:
        _require_feed(conn, feed)
        result = conn.execute(
            update(feed_credentials)
            .where(
                feed_credentials.c.feed == feed,
                feed_credentials.c.revoked_at.is_(None),
                or_(feed_credentials.c.expires_at.is_(None), feed_credentials.c.expires_at > func.now()),
            )
            .values(revoked_at=func.now())
        )
        return result.rowcount


def delete_feed(engine: Engine, name: str) -> None:
    """Removes the feed, its credentials, its scoped views and (in this database) its read role and its privileges."""
    with engine.begin() as conn:
        conn.execute(delete(feeds).where(feeds.c.name == name))
        drop_scope(conn, name)
        raw = cast(psycopg.Connection, conn.connection.driver_connection)  # SQLAlchemy types it Any: any driver's
        role = role_name_for(name)
        if raw.execute("select 1 from pg_catalog.pg_roles where rolname = %s", (role,)).fetchone():
            raw.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
            raw.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))
