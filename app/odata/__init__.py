"""The OData v4 feed: feeds and credentials, $metadata, query parsing and compiling, JSON payloads, the Flask app.

It may import Flask, psycopg, SQLAlchemy (engines only), orjson, `app.config` and
`app.warehouse` (engines, identifier quoting, the `orgfeed` metadata tables).
It must not import `app.sync` or `app.emulator`, nor `app.salesforce` except in `app.odata.writes`, the one
module that routes a writable feed's writes to the org that owns the row: the rest of the feed only reads views.
Only the web app factory (`app.odata.app.create_app`) imports `app.dashboard`, to register its blueprint.
"""

from __future__ import annotations


class ODataError(Exception):
    """A request the feed refuses: `status` and an OData error `code` go into the JSON error body."""

    status = 400
    code = "BadRequest"

    def __init__(self, message: str, *, target: str | None = None, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.target = target
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class BadQuery(ODataError):
    """A query option or path that does not parse or names something that does not exist (400)."""


class NotImplementedFeature(ODataError):
    """Valid OData the feed does not support ($expand, $apply, geo functions...) (501)."""

    status = 501
    code = "NotImplemented"


class NotFound(ODataError):
    """An unknown entity set, key or path (404)."""

    status = 404
    code = "NotFound"


class FeedError(Exception):
    """A feed-management problem a user can act on (`orgfeed feeds ...`, `orgfeed credentials ...`)."""
