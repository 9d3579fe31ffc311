"""$orderby and keyset paging as SQL: OData's null placement and the conditions that continue after a row.

Ascending order puts nulls first, descending last (OData 4.01 Part 1 §11.2.6.2), the opposite
of PostgreSQL's default. The key is never null, so it is ordered plainly and appended as the
final tiebreaker: `order by id` stays a merge of index scans over a union view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.odata import BadQuery
from app.odata.catalog import Column, EntitySet
from app.odata.compiler import Params


@dataclass(frozen=True)
class OrderItem:
    column: Column
    descending: bool = False


def complete_order(entity_set: EntitySet, items: tuple[OrderItem, ...]) -> tuple[OrderItem, ...]:
    """`items` with the key appended as the final tiebreaker (a stable total order for $skip and keysets)."""
    if any(item.column.name == entity_set.key.name for item in items):
        cut = next(i for i, item in enumerate(items) if item.column.name == entity_set.key.name)
        return items[: cut + 1]  # columns after the unique key cannot change the order
    return (*items, OrderItem(entity_set.key))


def compile_order(items: tuple[OrderItem, ...]) -> str:
    """ORDER BY terms with OData's null placement; not-null columns (the key) without a NULLS clause."""
    terms = []
    for item in items:
        direction = " desc" if item.descending else ""
        nulls = "" if not item.column.nullable else (" nulls last" if item.descending else " nulls first")
        terms.append(f"{item.column.sql}{direction}{nulls}")
    return ", ".join(terms)


def compile_keyset(items: tuple[OrderItem, ...], last: list[Any], params: Params) -> str:
    """The condition selecting rows after the row whose sort values are `last`, in the order `items` gives."""
    if len(last) != len(items):
        raise BadQuery("$skiptoken does not match this query's $orderby", target="$skiptoken")
    if len(items) == 1 and not items[0].column.nullable and not items[0].descending:
        return f"{items[0].column.sql} > {params.bind(last[0])}"
    alternatives = []
    for position, item in enumerate(items):
        equal = [
            _equal(earlier.column, value, params)
            for earlier, value in zip(items[:position], last[:position], strict=True)
        ]
        after = _after(item, last[position], params)
        if after is None:
            continue
        alternatives.append("(" + " and ".join([*equal, after]) + ")")
    return "(" + " or ".join(alternatives) + ")" if alternatives else "false"


def _equal(column: Column, value: Any, params: Params) -> str:
    return f"{column.sql} is null" if value is None else f"{column.sql} = {params.bind(value)}"


def _after(item: OrderItem, value: Any, params: Params) -> str | None:
    """Rows after `value` in one column: asc puts nulls first, desc puts them last."""
    column = item.column
    if value is None:
        return None if item.descending else f"{column.sql} is not null"
    placeholder = params.bind(value)
    if item.descending:
        return (
            f"({column.sql} < {placeholder} or {column.sql} is null)"
            if column.nullable
            else f"{column.sql} < {placeholder}"
        )
    return f"{column.sql} > {placeholder}"
