"""The feed's resources: service document, $metadata, collections, /$count, entities by key, properties.

Each function takes what the route parsed (a `Call`) and returns a Flask Response; the SQL comes
from `query` and `compiler`, the bytes from `payload` and `csdl`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Response

from app.odata import BadQuery, NotFound
from app.odata.auth import Feed
from app.odata.catalog import (
    CATALOG_SQL,
    VIEW_SCHEMA,
    EntitySet,
    catalog_params,
    entity_sets_from,
    find_entity_set,
)
from app.odata.csdl import render_csdl_json, render_csdl_xml, render_service_document
from app.odata.filter import Literal, parse_expression
from app.odata.paging import (
    MAX_PAGE_SIZE,
    Position,
    decode_skiptoken,
    encode_skiptoken,
    next_link,
)
from app.odata.payload import CHUNK_ROWS, JSON_OPTIONS, encode_entity, iter_collection
from app.odata.query import (
    ODataQuery,
    count_statement,
    order_items,
    page_statement,
    parse_query,
    selected_columns,
    sort_values,
)
from app.odata.session import ReadSession

JSON_TYPE = "application/json;odata.metadata=minimal"


@dataclass
class Call:
    """One authenticated request, as the route parsed it."""

    feed: Feed
    session: ReadSession  # the request's connection and read transaction, already authenticated on
    service_root: str  # absolute, ending in /
    base_url: str  # the request URL without its query string
    query_string: str
    started: float
    ieee754: bool = False
    page_size: int | None = None  # from Prefer: odata.maxpagesize
    log: dict = field(default_factory=dict)  # access-log fields filled in as the request proceeds
    etag: Callable[[EntitySet, Any], str | None] | None = None  # a writable feed's entity ETag, by key


class Catalog:
    """Entity sets per list of views, re-read from the database at most every `ttl` seconds."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, tuple[EntitySet, ...]]] = {}

    def entity_sets(
        self, session: ReadSession, views: tuple[str, ...], schema: str = VIEW_SCHEMA
    ) -> tuple[EntitySet, ...]:
        now = time.monotonic()
        cached = self._cache.get((schema, views))
        if cached and cached[0] > now:
            return cached[1]
        sets = entity_sets_from(session.fetch(CATALOG_SQL, catalog_params(views, schema)), views, schema)
        self._cache[(schema, views)] = (now + self.ttl, sets)
        return sets

    def forget(self, views: tuple[str, ...], schema: str = VIEW_SCHEMA) -> None:
        """Drops the cached entity sets of `views`: the next request reads the catalog again."""
        self._cache.pop((schema, views), None)


def json_response(body: bytes, *, ieee754: bool = False, status: int = 200) -> Response:
    return Response(body, status=status, content_type=JSON_TYPE + (";IEEE754Compatible=true" if ieee754 else ""))


def service_document(catalog: Catalog, call: Call) -> Response:
    try:
        sets = catalog.entity_sets(call.session, call.feed.views, call.feed.schema)
    finally:
        call.session.close()
    return json_response(orjson.dumps(render_service_document(sets, call.service_root)))


def metadata_document(
    catalog: Catalog,
    call: Call,
    *,
    as_json: bool,
    writable: Callable[[Sequence[EntitySet]], Mapping[str, Mapping[str, str]]] | None = None,
) -> Response:
    """$metadata; `writable` (a writable feed) gives the sets writes may change and their read-only properties."""
    try:
        sets = catalog.entity_sets(call.session, call.feed.views, call.feed.schema)
    finally:
        call.session.close()
    read_only = writable(sets) if writable else {}
    if as_json:
        return Response(orjson.dumps(render_csdl_json(sets, read_only)), content_type="application/json")
    return Response(render_csdl_xml(sets, read_only), content_type="application/xml")


@dataclass(frozen=True)
class ResourcePath:
    entity_set: str
    key: str | None = None  # the text between the parentheses
    segments: tuple[str, ...] = ()  # after the set or entity: ("$count",), ("Name",), ("Name", "$value")


def parse_resource_path(path: str) -> ResourcePath:
    """`Set`, `Set/$count`, `Set('k')`, `Set(id='k')/Name/$value` split into its parts; BadQuery when malformed."""
    match = re.match(r"([^/(]+)", path)
    if not match:
        raise NotFound(f"no resource at {path!r}")
    name, position, key = match.group(1), match.end(), None
    if position < len(path) and path[position] == "(":
        position += 1
        start, quoted = position, False
        while position < len(path) and (quoted or path[position] != ")"):
            if path[position] == "'":
                quoted = not quoted
            position += 1
        if position >= len(path):
            raise BadQuery(f"the key in {path!r} has no closing parenthesis")
        key, position = path[start:position], position + 1
    rest = path[position:]
    if rest and not rest.startswith("/"):
        raise BadQuery(f"unexpected {rest!r} after {path[:position]!r}")
    segments = tuple(segment for segment in rest.split("/") if segment)
    return ResourcePath(name, key, segments)


def resource(catalog: Catalog, call: Call, path: ResourcePath) -> Response:
    """Dispatches a path under the service root to the collection, /$count, entity or property handler.

    Every handler ends the read transaction with its one statement, so the connection is back in the pool
    before the body is written; the session is closed in any case."""
    query = parse_query(call.query_string)
    session = call.session
    try:
        entity_set = find_entity_set(catalog.entity_sets(session, call.feed.views, call.feed.schema), path.entity_set)
        if entity_set is None:
            raise NotFound(f"the feed {call.feed.name!r} has no entity set {path.entity_set!r}")
        call.log["entity_set"] = entity_set.name
        if path.key is None:
            if path.segments == ("$count",):
                return _count(session, entity_set, query, call)
            if path.segments:
                raise BadQuery(f"{entity_set.name}/{'/'.join(path.segments)}: only /$count may follow an entity set")
            return _collection(session, entity_set, query, call)
        return _entity(session, entity_set, query, call, path)
    finally:
        session.close()


def _count(session: ReadSession, entity_set: EntitySet, query: ODataQuery, call: Call) -> Response:
    statement = count_statement(query, entity_set)
    total = session.fetch(statement.sql, statement.params, last=True)[0][0]
    call.log["rows"] = 1
    return Response(str(total), content_type="text/plain")


def _collection(session: ReadSession, entity_set: EntitySet, query: ODataQuery, call: Call) -> Response:
    columns = selected_columns(entity_set, query.select)
    order = order_items(query, entity_set)
    position = decode_skiptoken(query.skiptoken) if query.skiptoken else None
    delivered = position.delivered if position else 0
    remaining = None if query.top is None else max(query.top - delivered, 0)
    page_size = call.page_size or MAX_PAGE_SIZE
    limit = page_size if remaining is None else min(page_size, remaining)
    head: dict[str, Any] = {"@odata.context": _context(call, entity_set, query)}
    rows: list = []
    total = None
    if limit > 0:
        # The count rides along as the page's last column: one statement, one round trip.
        statement = page_statement(
            query,
            entity_set,
            columns,
            order,
            limit=limit,
            after=position.last if position else None,
            offset=(query.skip or 0) if position is None else 0,
            with_count=query.count,
        )
        rows = session.fetch(statement.sql, statement.params, ieee754=call.ieee754, last=True)
        if rows and query.count:
            total = rows[0][-1]
    if query.count and total is None:  # no row came back to carry the count ($top=0, $skip past the end)
        statement = count_statement(query, entity_set)
        total = session.fetch(statement.sql, statement.params, last=True)[0][0]
    if query.count:
        head["@odata.count"] = str(total) if call.ieee754 else total  # an Int64
    session.close()
    more = len(rows) > limit and (remaining is None or limit < remaining)
    rows = rows[:limit]
    call.log["rows"] = len(rows)
    tail: dict = {}
    if more and rows:
        last = rows[-1][len(columns) : len(columns) + len(order)]
        token = encode_skiptoken(Position(sort_values(order, last), delivered + len(rows)))
        tail = {"@odata.nextLink": next_link(call.base_url, query.pairs, token)}
    chunks = (rows[start : start + CHUNK_ROWS] for start in range(0, len(rows), CHUNK_ROWS))
    response = Response(
        b"".join(iter_collection(head, columns, chunks, lambda: tail)),
        content_type=JSON_TYPE + (";IEEE754Compatible=true" if call.ieee754 else ""),
    )
    if call.page_size:
        response.headers["Preference-Applied"] = f"odata.maxpagesize={call.page_size}"
    return response


def with_etag(entity: bytes, tag: str) -> bytes:
    """`entity` (JSON) with `@odata.etag` after its `@odata.context`."""
    context, _, rest = entity.partition(b",")
    return context + b',"@odata.etag":' + orjson.dumps(tag) + (b"," + rest if rest else b"")


def _context(call: Call, entity_set: EntitySet, query: ODataQuery) -> str:
    if query.select is None:
        return f"{call.service_root}$metadata#{entity_set.name}"
    names = [entity_set.column(name, target="$select").property for name in query.select]
    return f"{call.service_root}$metadata#{entity_set.name}({','.join(names)})"


def key_value(entity_set: EntitySet, text: str) -> Any:
    """The key value in `Set(<text>)`: `'abc'`, `id='abc'` or a number."""
    named = re.match(r"\s*([A-Za-z_]\w*)\s*=(.*)$", text, re.DOTALL)
    if named:
        if entity_set.column(named.group(1), target="key").name != entity_set.key.name:
            raise BadQuery(f"key: {named.group(1)!r} is not the key of {entity_set.name}", target="key")
        text = named.group(2)
    node = parse_expression(text, target="key")
    if not isinstance(node, Literal) or node.value is None:
        raise BadQuery(f"key: expected a literal like ('abc'), got {text!r}", target="key")
    value = node.value
    if entity_set.key.kind == "string" and not isinstance(value, str):
        value = str(value)
    return value


def _entity(session: ReadSession, entity_set: EntitySet, query: ODataQuery, call: Call, path: ResourcePath) -> Response:
    value = key_value(entity_set, path.key or "")
    columns = selected_columns(entity_set, query.select)
    if path.segments:
        if (
            path.segments[0] in ("$count", "$value")
            or len(path.segments) > 2
            or (len(path.segments) == 2 and path.segments[1] != "$value")
        ):
            raise BadQuery(f"unsupported path after the key: /{'/'.join(path.segments)}")
        columns = (entity_set.column(path.segments[0], target="path"),)
    sql = (
        f"select {', '.join(column.sql for column in columns)} from {entity_set.sql_name} "
        f"where {entity_set.key.sql} = %(key)s limit 1"
    )
    found = session.fetch(sql, {"key": value}, ieee754=call.ieee754, last=True)
    row = found[0] if found else None
    if row is None:
        raise NotFound(f"{entity_set.name} has no entity with key {path.key}")
    call.log["rows"] = 1
    key_literal = "'" + str(value).replace("'", "''") + "'" if isinstance(value, str) else str(value)
    if not path.segments:
        context = f"{call.service_root}$metadata#{entity_set.name}/$entity"
        body = encode_entity(context, columns, row)
        tag = call.etag(entity_set, value) if call.etag else None
        if tag is None:
            return json_response(body, ieee754=call.ieee754)
        response = json_response(with_etag(body, tag), ieee754=call.ieee754)
        response.headers["ETag"] = tag
        return response
    column = columns[0]
    if len(path.segments) == 2:
        if row[0] is None:
            return Response(status=204)
        raw = row[0]
        text = raw if isinstance(raw, str) else orjson.dumps(raw, option=JSON_OPTIONS).decode().strip('"')
        return Response(text, content_type="text/plain; charset=utf-8")
    context = f"{call.service_root}$metadata#{entity_set.name}({key_literal})/{column.property}"
    return json_response(
        orjson.dumps({"@odata.context": context, "value": row[0]}, option=JSON_OPTIONS), ieee754=call.ieee754
    )
