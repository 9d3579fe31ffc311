"""Quoting of SQL identifiers: the one place a schema, table, column, index or view name becomes SQL text."""

from __future__ import annotations

from app.warehouse import WarehouseError

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1; longer names are silently truncated


def quote_identifier(name: str) -> str:
    """`name` as a double-quoted SQL identifier; raises WarehouseError for names PostgreSQL would mangle."""
    if not name or "\x00" in name:
        raise WarehouseError(f"{name!r} is not a usable SQL identifier: it is empty or holds a NUL byte")
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise WarehouseError(
            f"{name!r} is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte limit for names; it would be truncated"
        )
    return '"' + name.replace('"', '""') + '"'


def qualified_name(schema: str, name: str) -> str:
    """`schema`.`name`, both quoted."""
    return f"{quote_identifier(schema)}.{quote_identifier(name)}"
