"""System query options: the raw query string to an `ODataQuery`, and `ODataQuery` to SQL statements.

Options are matched case-insensitively and with or without `$` (OData 4.01 Part 2 §5). The
query string is decoded here, not by Werkzeug, so a `+` in a timestamp offset survives
(clients that send `+` for a space still work: only `T..:..+hh:mm` is repaired).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, unquote_plus

from app.odata import BadQuery, NotImplementedFeature
from app.odata.catalog import EntitySet
from app.odata.compiler import Params, compile_filter, compile_search
from app.odata.filter import Node, Property, parse_filter
from app.odata.ordering import OrderItem, compile_keyset, compile_order, complete_order

SYSTEM_OPTIONS = frozenset(
    {
        "select",
        "filter",
        "orderby",
        "top",
        "skip",
        "count",
        "search",
        "skiptoken",
        "format",
        "expand",
        "apply",
        "compute",
        "levels",
        "index",
        "schemaversion",
        "deltatoken",
        "id",
    }
)
UNSUPPORTED_OPTIONS = frozenset({"expand", "apply", "compute", "levels", "index", "deltatoken", "id"})
MAX_TOP = 2**31 - 1
_UNFORM_CHARACTERS = ("'", "(", ")")  # escaped by every form encoder: raw, the query string is not form-encoded
_EXPRESSION_OPTIONS = frozenset({"filter", "orderby", "select", "expand", "apply", "compute"})
_EXPONENT_PLUS = re.compile(r"(?<![A-Za-z_])(\d(?:\.\d+)?[eE])\+(?=\d)")
_OFFSET_PLUS = re.compile(r"(T\d{2}(?::|%3[Aa])\d{2}(?:(?::|%3[Aa])\d{2}(?:\.\d+)?)?)\+(\d{2}(?::|%3[Aa])\d{2})")


@dataclass(frozen=True)
class ODataQuery:
    select: tuple[str, ...] | None = None  # property names; None means all
    filter: Node | None = None
    search: str | None = None
    orderby: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    top: int | None = None
    skip: int | None = None
    count: bool = False
    skiptoken: str | None = None
    format: str | None = None
    pairs: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # the raw (encoded) pairs, for nextLink


def split_query_string(raw: str) -> list[tuple[str, str, str]]:
    """(decoded name, decoded value, raw pair) for each `name=value` in a raw query string.

    A `+` is a plus sign in OData URLs (RFC 3986); only a form-encoded query string uses it for a space.
    The query string is taken as form-encoded when it holds a `+` but no `%20` and none of the characters
    a form encoder always escapes (`'`, `(`, `)`): Python's urlencode and `requests`' params,
    URLSearchParams. Otherwise a `+` inside a string literal of an expression option, and anywhere in
    `$search` or a custom option, is a plus sign, while a `+` between the tokens of `$filter`, `$orderby`
    or `$select` is still read as a space (hand-typed `$filter=lastname+eq+'Smith'`). In both, a `+` in
    a timestamp's offset or a number's exponent is a plus sign.
    """
    form = "+" in raw and "%20" not in raw and not any(mark in raw for mark in _UNFORM_CHARACTERS)
    raw = _EXPONENT_PLUS.sub(r"\1%2B", _OFFSET_PLUS.sub(r"\1%2B\2", raw))
    pairs = []
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            decoded_name = unquote_plus(name, errors="strict")
            if form:
                decoded_value = unquote_plus(value, errors="strict")
            elif decoded_name.startswith("@") or decoded_name.lower().removeprefix("$") in _EXPRESSION_OPTIONS:
                decoded_value = unquote(_spaces_between_tokens(value), errors="strict")
            else:
                decoded_value = unquote(value, errors="strict")
            decoded = (decoded_name, decoded_value)
        except UnicodeDecodeError:
            raise BadQuery(f"the query option {unquote(name)!r} is not valid UTF-8 once decoded") from None
        if "\x00" in decoded[0] or "\x00" in decoded[1]:
            raise BadQuery(f"the query option {decoded[0]!r} holds a NUL character")
        pairs.append((*decoded, part))
    return pairs


def _spaces_between_tokens(value: str) -> str:
    """`value` (still percent-encoded) with each `+` outside string literals made a space (`%20`); literals
    (between `'` or `%27`, with `''` inside them) keep theirs."""
    out, literal, position = [], False, 0
    while position < len(value):
        if value[position] == "'" or value[position : position + 3].lower() == "%27":
            literal = not literal
            step = 1 if value[position] == "'" else 3
            out.append(value[position : position + step])
            position += step
            continue
        out.append("%20" if value[position] == "+" and not literal else value[position])
        position += 1
    return "".join(out)


def parse_query(raw_query_string: str) -> ODataQuery:
    """The system query options of a request; raises BadQuery (400) or NotImplementedFeature (501)."""
    options: dict[str, str] = {}
    aliases: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    for name, value, part in split_query_string(raw_query_string):
        if name.startswith("@"):
            aliases[name] = value
            kept.append((name, part))
            continue
        key = name.lower().removeprefix("$")
        if key not in SYSTEM_OPTIONS:
            if name.startswith("$"):
                raise BadQuery(f"unknown system query option {name}", target=name)
            kept.append((name, part))  # a custom query option: ignored, but kept in links
            continue
        if key in options:
            raise BadQuery(f"${key} is given more than once", target=f"${key}")
        if key in UNSUPPORTED_OPTIONS:
            raise NotImplementedFeature(f"${key} is not supported by this service", target=f"${key}")
        options[key] = value
        if key != "skiptoken":
            kept.append((key, part))
    return ODataQuery(
        select=_parse_select(options["select"]) if "select" in options else None,
        filter=parse_filter(options["filter"], aliases) if "filter" in options else None,
        search=_parse_search(options["search"]) if "search" in options else None,
        orderby=_parse_orderby(options["orderby"]) if "orderby" in options else (),
        top=_parse_count_value(options, "top"),
        skip=_parse_count_value(options, "skip"),
        count=_parse_bool(options, "count"),
        skiptoken=options.get("skiptoken"),
        format=options.get("format"),
        pairs=tuple(kept),
    )


def _parse_select(value: str) -> tuple[str, ...] | None:
    items = tuple(item.strip() for item in value.split(","))
    if any(not item for item in items):
        raise BadQuery("$select: empty item", target="$select")
    if "*" in items:
        return None
    for item in items:
        if "/" in item or "(" in item:
            raise NotImplementedFeature(
                f"$select: {item!r}: paths and nested options are not supported", target="$select"
            )
    return items


def _parse_orderby(value: str) -> tuple[tuple[str, bool], ...]:
    items = []
    for part in value.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise BadQuery(f"$orderby: {part.strip()!r} is not `property [asc|desc]`", target="$orderby")
        if len(words) == 2 and words[1].lower() not in ("asc", "desc"):
            raise BadQuery(f"$orderby: expected asc or desc after {words[0]!r}, got {words[1]!r}", target="$orderby")
        if not re.fullmatch(r"[A-Za-z_]\w*", words[0]):
            raise NotImplementedFeature(
                f"$orderby: only property names are supported, not {words[0]!r}", target="$orderby"
            )
        items.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return tuple(items)


def _parse_search(value: str) -> str:
    """The $search phrase: surrounding double quotes removed, taken literally (Salesforce sends one phrase)."""
    phrase = value.strip()
    if len(phrase) >= 2 and phrase[0] == phrase[-1] == '"':
        phrase = phrase[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not phrase:
        raise BadQuery("$search: the search phrase is empty", target="$search")
    return phrase


def _parse_count_value(options: dict[str, str], key: str) -> int | None:
    if key not in options:
        return None
    value = options[key].strip()
    if not re.fullmatch(r"\d{1,18}", value):
        raise BadQuery(f"${key} must be a non-negative integer, got {options[key]!r}", target=f"${key}")
    return min(int(value), MAX_TOP)


def _parse_bool(options: dict[str, str], key: str) -> bool:
    value = options.get(key, "false").strip().lower()
    if value not in ("true", "false"):
        raise BadQuery(f"${key} must be true or false, got {options[key]!r}", target=f"${key}")
    return value == "true"


@dataclass(frozen=True)
class Statement:
    sql: str
    params: dict[str, Any]


def selected_columns(entity_set: EntitySet, select: tuple[str, ...] | None) -> tuple:
    """The columns to return: all, or the selected ones plus the key, in the view's order."""
    if select is None:
        return entity_set.columns
    wanted = {entity_set.column(name, target="$select").name for name in select} | {entity_set.key.name}
    return tuple(column for column in entity_set.columns if column.name in wanted)


def conditions(query: ODataQuery, entity_set: EntitySet, params: Params) -> list[str]:
    """The WHERE conditions of $filter and $search."""
    where = []
    if query.filter is not None:
        where.append(compile_filter(query.filter, entity_set, params))
    if query.search is not None:
        where.append(compile_search(query.search, entity_set, params))
    return where


def order_items(query: ODataQuery, entity_set: EntitySet) -> tuple[OrderItem, ...]:
    items = tuple(
        OrderItem(entity_set.column(name, target="$orderby"), descending) for name, descending in query.orderby
    )
    return complete_order(entity_set, items)


def count_statement(query: ODataQuery, entity_set: EntitySet) -> Statement:
    """The count of the filtered set ($top and $skip ignored, as @odata.count requires); see count_sql."""
    params = Params()
    return Statement(count_sql(query, entity_set, params), params.values)


def count_sql(query: ODataQuery, entity_set: EntitySet, params: Params) -> str:
    """A statement (or scalar subquery) counting the filtered set, binding its values into `params`.

    Unfiltered, or filtered on `geo` alone, it is the sum of the live-row counts of the branches whose geo
    passes the filter, read from `orgfeed.view_live_rows` (kept by triggers in the writers' transactions:
    one statement, one snapshot, no scan). When that view cannot vouch for every branch (a view with a
    `where`, a table not tracked, triggers altered) the same statement falls back to `count(*)`: CASE runs
    only the arm it needs.
    """
    where = conditions(query, entity_set, params)
    condition = f" where {' and '.join(where)}" if where else ""
    scan = f"select count(*) from {entity_set.sql_name}{condition}"
    if query.search is not None or (query.filter is not None and not _only_geo(query.filter, entity_set)):
        return scan
    view = params.bind(entity_set.sql_name)
    return (
        f"with branches as materialized (select geo, live from orgfeed.view_branch_counts(to_regclass({view}))) "
        "select case when (select count(*) > 0 and count(*) = count(live) from branches) "
        f"then (select coalesce(sum(live), 0) from branches{condition})::bigint "
        f"else ({scan}) end"
    )


def _only_geo(node: Node, entity_set: EntitySet) -> bool:
    """True when the only property `node` reads is the view's `geo` (constant within each branch)."""
    if isinstance(node, Property):
        return entity_set.column(node.name, target="$filter").name == "geo"
    children = [getattr(node, name) for name in ("left", "right", "operand", "items", "args") if hasattr(node, name)]
    flat = [item for child in children for item in (child if isinstance(child, tuple) else (child,))]
    return all(_only_geo(child, entity_set) for child in flat)


def page_statement(
    query: ODataQuery,
    entity_set: EntitySet,
    columns: tuple,
    order: tuple[OrderItem, ...],
    *,
    limit: int,
    after: list[Any] | None,
    offset: int,
    with_count: bool = False,
) -> Statement:
    """One page: `limit + 1` rows after the keyset `after` (or from `offset` when there is none).

    `with_count` adds the count of the filtered set (count_sql) as a last column, `_count`: an
    uncorrelated subquery, run once, when the first row is produced (no row: no count, ask count_sql).
    """
    params = Params()
    count = f", ({count_sql(query, entity_set, params)}) as _count" if with_count else ""
    where = conditions(query, entity_set, params)
    if after is not None:
        where.append(compile_keyset(order, after, params))
    select_list = ", ".join(column.sql for column in columns)
    # The sort values ride along after the payload columns so the next skiptoken can be built; numbers and
    # binary as text, because the payload's loaders reshape those for JSON (see sort_values).
    # Aliased: ORDER BY "x" would otherwise bind to an output column named x, such as a text cast of x.
    sort_list = ", ".join(
        (f"{item.column.sql}::text" if item.column.kind in _TEXT_SORT_KINDS else item.column.sql)
        + f" as _sort{position}"
        for position, item in enumerate(order)
    )
    sql = f"select {select_list}, {sort_list}{count} from {entity_set.sql_name}"
    if where:
        sql += f" where {' and '.join(where)}"
    sql += f" order by {compile_order(order)} limit {int(limit) + 1}"
    if offset:
        sql += f" offset {int(offset)}"
    return Statement(sql, params.values)


_TEXT_SORT_KINDS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "decimal": Decimal,
    "double": float,
    "binary": lambda text: bytes.fromhex(text[2:]),
}


def sort_values(order: tuple[OrderItem, ...], values: Sequence[Any]) -> list[Any]:
    """The sort values of a page's last row (as `page_statement` selected them) in their SQL types, for a skiptoken."""
    return [
        value
        if value is None or item.column.kind not in _TEXT_SORT_KINDS
        else _TEXT_SORT_KINDS[item.column.kind](value)
        for item, value in zip(order, values, strict=True)
    ]
