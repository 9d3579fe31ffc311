"""Quoting of SQL identifiers: the one place a schema, table, column, index or view name becomes SQL text."""

from __future__ import annotations

import re

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


# PostgreSQL's reserved key words and those that cannot name a column unquoted
# (https://www.postgresql.org/docs/current/sql-keywords-appendix.html).
RESERVED_WORDS = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "system_user",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
    ]
)


BARE_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]*$")


def sql_identifier(name: str) -> str:
    """`name` bare when PostgreSQL reads it unchanged (lower-case, not a key word), else quoted: for SQL people read."""
    if BARE_IDENTIFIER.match(name) and name not in RESERVED_WORDS:
        quote_identifier(name)  # the same length checks
        return name
    return quote_identifier(name)
