"""HTTP Basic authentication of a request against a feed's credentials.

One query reads the feed (views, read role) and the username's usable credentials, as the first
statement of the request's read session; the password is checked against each in constant time.
Unknown feeds and users cost the same scrypt as a wrong password, and every failure is answered
alike (401).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from app.odata.catalog import VIEW_SCHEMA
from app.odata.credentials import VerifiedCache, burn_verification
from app.odata.session import driver_connection
from app.views.scopes import scope_schema

FEED_SQL = """
select f.views, f.role_name, c.password_hash, (f.geos is not null or cardinality(f.hidden) > 0), f.writable,
       f.default_geo, f.geos
from orgfeed.feeds f
left join orgfeed.feed_credentials c
  on c.feed = f.name and c.username = %s and c.revoked_at is null and (c.expires_at is null or c.expires_at > now())
where f.name = %s
"""


@dataclass(frozen=True)
class Feed:
    name: str
    views: tuple[str, ...]
    role_name: str | None
    username: str
    schema: str = VIEW_SCHEMA  # where its views are read: a scoped feed's own schema (app.views.scopes)
    writable: bool = False
    default_geo: str | None = None
    geos: tuple[str, ...] | None = None  # a scoped feed's geos: it reads and writes only their rows


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic ...` header; None when absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (username, password) if sep else None


def authenticate(
    fetch: Callable[[str, tuple], list], cache: VerifiedCache, feed: str, username: str, password: str
) -> Feed | None:
    """The feed when `username`/`password` is one of its usable credentials; None otherwise.

    `fetch(sql, params)` runs the credential query: on the request's read session (one round trip), or on
    the primary when the feed reads a follower.
    """
    if len(username) > 63 or len(password) > 1024:
        burn_verification(password[:1024])
        return None
    rows = fetch(FEED_SQL, (username, feed))
    hashes = [row[2] for row in rows if row[2]]
    if not hashes:
        burn_verification(password)
        return None
    # Known pairs first: during a reset's grace a feed has two hashes, and trying them in order would
    # pay a full scrypt on the old hash for every request that uses the new password.
    if not (
        any(cache.knows(password, stored) for stored in hashes)
        or any(cache.verify(password, stored) for stored in hashes)
    ):
        return None
    views, role_name, _, scoped, writable, default_geo, geos = rows[0]
    schema = scope_schema(feed) if scoped else VIEW_SCHEMA
    scope = tuple(geos) if geos is not None else None
    return Feed(feed, tuple(views), role_name, username, schema, writable, default_geo, scope)


def fetch_on(engine: Engine) -> Callable[[str, tuple], list]:
    """A `fetch` for `authenticate` on its own pooled connection: the query and its rollback in one round trip."""

    def fetch(sql: str, params: tuple) -> list:
        fairy = engine.raw_connection()
        try:
            conn = driver_connection(fairy)
            with conn.cursor() as cursor:
                with conn.pipeline():
                    cursor.execute(sql, params)
                    conn.rollback()
                return cursor.fetchall()
        finally:
            fairy.close()

    return fetch
