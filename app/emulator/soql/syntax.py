"""SOQL text to a syntax tree: the subset of SOQL the emulator answers; anything else is MALFORMED_QUERY.

Rules cite pages of Salesforce's SOQL and SOSL Reference, under
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/ (named by page file).
Type checks and evaluation live in `execute`, which re-exports everything public here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from app.emulator.soql.tokens import (
    SoqlError,
    Token,
    build_error,
    build_unexpected_error,
    build_unsupported_error,
    scan_tokens,
)

# sforce_api_calls_soql_select_offset.htm: "The maximum offset is 2,000 rows. Requesting an offset
# greater than 2,000 results in a NUMBER_OUTSIDE_VALID_RANGE error"; the message is Salesforce's.
MAX_OFFSET = 2000
OFFSET_ERROR_MESSAGE = "Maximum SOQL offset allowed is 2000"

# Words that can never name a field; Order and Group stay usable because they are real sObjects.
RESERVED_WORDS = frozenset(
    {
        "AND",
        "ASC",
        "DESC",
        "EXCLUDES",
        "FROM",
        "HAVING",
        "IN",
        "INCLUDES",
        "LIKE",
        "LIMIT",
        "NOT",
        "NULL",
        "NULLS",
        "OR",
        "SELECT",
        "WHERE",
        "WITH",
        "TRUE",
        "FALSE",
    }
)
COMPARISON_SYMBOLS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
SIMPLE_DATE_LITERALS = frozenset({"TODAY", "YESTERDAY", "TOMORROW"})
COUNTED_DATE_LITERALS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS"})


@dataclass(frozen=True)
class RelativeDate:
    """A date literal naming a range of whole days relative to now: TODAY, LAST_N_DAYS:7."""

    name: str
    n: int | None = None


Value = str | bool | int | Decimal | date | datetime | RelativeDate | None


@dataclass(frozen=True)
class Comparison:
    """`field operator value`; IN and NOT IN carry a tuple of values, `<>` is spelled `!=`."""

    field: str
    operator: str
    value: Value | tuple[Value, ...]
    at: int = dataclasses.field(default=0, compare=False, repr=False)
    value_at: tuple[int, ...] = dataclasses.field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    """NOT applied to one condition."""

    condition: Condition


@dataclass(frozen=True)
class And:
    """Two or more conditions joined by AND."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """Two or more conditions joined by OR."""

    conditions: tuple[Condition, ...]


Condition = Comparison | Not | And | Or


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key; `nulls_first` holds SOQL's default when the query names none."""

    field: str
    descending: bool = False
    nulls_first: bool = True
    at: int = dataclasses.field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class SoqlQuery:
    """A parsed query: syntax only, names as written; offsets into `text` locate errors later."""

    sobject: str
    fields: tuple[str, ...]
    is_count: bool
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None
    text: str = dataclasses.field(default="", compare=False, repr=False)
    sobject_at: int = dataclasses.field(default=0, compare=False, repr=False)
    field_at: tuple[int, ...] = dataclasses.field(default=(), compare=False, repr=False)


class Cursor:
    """A read position in the token list of one query, for the recursive-descent parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = scan_tokens(text)
        self.index = 0

    def peek(self, ahead: int = 0) -> Token:
        """Return the token `ahead` places past the current one (the end token past the end)."""
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        """Return the current token and move past it."""
        token = self.peek()
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def at_keyword(self, *words: str, ahead: int = 0) -> bool:
        """Return whether the token `ahead` is one of `words`, in any letter case."""
        token = self.peek(ahead)
        return token.kind == "name" and token.text.upper() in words

    def at_symbol(self, symbol: str, ahead: int = 0) -> bool:
        """Return whether the token `ahead` is `symbol`."""
        token = self.peek(ahead)
        return token.kind == "symbol" and token.text == symbol

    def expect_keyword(self, word: str) -> Token:
        """Return the current token if it is `word`, else raise MALFORMED_QUERY naming it."""
        if not self.at_keyword(word):
            raise build_unexpected_error(self.text, self.peek())
        return self.advance()

    def expect_symbol(self, symbol: str) -> Token:
        """Return the current token if it is `symbol`, else raise MALFORMED_QUERY naming it."""
        if not self.at_symbol(symbol):
            raise build_unexpected_error(self.text, self.peek())
        return self.advance()


def parse_soql(text: str) -> SoqlQuery:
    """Return the syntax tree of `text`; raises SoqlError for anything outside the supported subset."""
    cursor = Cursor(text)
    cursor.expect_keyword("SELECT")
    fields, field_at, is_count = parse_select_list(cursor)
    cursor.expect_keyword("FROM")
    sobject = take_name(cursor)
    where = None
    if cursor.at_keyword("WHERE"):
        cursor.advance()
        where = parse_logical(cursor)
    order_by: tuple[OrderItem, ...] = ()
    if cursor.at_keyword("ORDER") and cursor.at_keyword("BY", ahead=1):
        if is_count:
            # sforce_api_calls_soql_select_count.htm: "You can't use COUNT() with an ORDER BY clause."
            order = cursor.peek()
            raise build_error(text, order.at, f"unexpected token: '{order.text}' (COUNT() can't be ordered)")
        cursor.advance()
        cursor.advance()
        order_by = parse_order_list(cursor)
    limit = parse_row_count(cursor, "LIMIT")
    offset = parse_row_count(cursor, "OFFSET")
    if cursor.peek().kind != "end":
        raise build_unexpected_error(text, cursor.peek())
    if offset is not None and offset > MAX_OFFSET:
        raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", OFFSET_ERROR_MESSAGE)
    return SoqlQuery(
        sobject.text,
        fields,
        is_count,
        where,
        order_by,
        limit,
        offset,
        text=text,
        sobject_at=sobject.at,
        field_at=field_at,
    )


def parse_select_list(cursor: Cursor) -> tuple[tuple[str, ...], tuple[int, ...], bool]:
    """Return the selected names, their offsets and whether the list is COUNT()."""
    if cursor.at_keyword("COUNT") and cursor.at_symbol("(", ahead=1):
        count = cursor.advance()
        cursor.advance()
        if not cursor.at_symbol(")"):
            raise build_unsupported_error(cursor.text, count, "aggregate functions other than COUNT() are")
        cursor.advance()
        if cursor.at_symbol(","):
            # sforce_api_calls_soql_select_count.htm: "COUNT() must be the only element in the SELECT list."
            raise build_unexpected_error(cursor.text, cursor.peek())
        return (), (), True
    names = [take_name(cursor)]
    while cursor.at_symbol(","):
        cursor.advance()
        names.append(take_name(cursor))
    return tuple(t.text for t in names), tuple(t.at for t in names), False


def take_name(cursor: Cursor) -> Token:
    """Return the current token if it is a plain field or object name, else raise MALFORMED_QUERY."""
    token = cursor.peek()
    if token.kind == "symbol" and token.text == "(":
        raise build_unsupported_error(cursor.text, token, "subqueries are")
    if token.kind != "name" or token.text.upper() in RESERVED_WORDS or ":" in token.text:
        raise build_unexpected_error(cursor.text, token)
    if cursor.at_symbol("(", ahead=1):
        feature = "FIELDS() is" if token.text.upper() == "FIELDS" else "functions are"
        if token.text.upper() == "COUNT":
            feature = "COUNT() outside a SELECT list of its own is"
        raise build_unsupported_error(cursor.text, token, feature)
    if token.text.upper() == "TYPEOF" and cursor.peek(1).kind == "name":
        raise build_unexpected_error(cursor.text, token)
    if "." in token.text:
        raise build_unsupported_error(cursor.text, token, "relationship paths are")
    return cursor.advance()


def parse_logical(cursor: Cursor) -> Condition:
    """Return one logicalExpression: a run of one operator, or NOT before one condition.

    sforce_api_calls_soql_select_logicaloperators.htm: "Parentheses are required whenever you mix the
    operators", as in the open-source apex-parser's ApexParser.g4 grammar:
    logicalExpression: c (AND c)* | c (OR c)* | NOT c, where c is ( logicalExpression ) or a comparison.
    """
    if cursor.at_keyword("NOT"):
        cursor.advance()
        return Not(parse_conditional(cursor))
    first = parse_conditional(cursor)
    if not cursor.at_keyword("AND", "OR"):
        return first
    joiner = cursor.peek().text.upper()
    conditions = [first]
    while cursor.at_keyword("AND", "OR"):
        if cursor.peek().text.upper() != joiner:
            raise build_unexpected_error(cursor.text, cursor.peek())
        cursor.advance()
        conditions.append(parse_conditional(cursor))
    return And(tuple(conditions)) if joiner == "AND" else Or(tuple(conditions))


def parse_conditional(cursor: Cursor) -> Condition:
    """Return a parenthesised logicalExpression or a single comparison."""
    if cursor.at_symbol("("):
        cursor.advance()
        condition = parse_logical(cursor)
        cursor.expect_symbol(")")
        return condition
    return parse_comparison(cursor)


def parse_comparison(cursor: Cursor) -> Comparison:
    """Return `field operator value`, `field IN (values)` or `field NOT IN (values)`."""
    name = take_name(cursor)
    operator = cursor.peek()
    if operator.kind == "symbol" and operator.text in COMPARISON_SYMBOLS:
        cursor.advance()
        value, value_at = parse_value(cursor)
        return Comparison(name.text, COMPARISON_SYMBOLS[operator.text], value, name.at, (value_at,))
    if cursor.at_keyword("NOT") and cursor.at_keyword("IN", ahead=1):
        cursor.advance()
        cursor.advance()
        values, values_at = parse_value_list(cursor)
        return Comparison(name.text, "NOT IN", values, name.at, values_at)
    if cursor.at_keyword("IN"):
        cursor.advance()
        values, values_at = parse_value_list(cursor)
        return Comparison(name.text, "IN", values, name.at, values_at)
    raise build_unexpected_error(cursor.text, operator)


def parse_value_list(cursor: Cursor) -> tuple[tuple[Value, ...], tuple[int, ...]]:
    """Return the values of a parenthesised, comma-separated IN list and their offsets."""
    cursor.expect_symbol("(")
    if cursor.at_keyword("SELECT"):
        raise build_unsupported_error(cursor.text, cursor.peek(), "semi-joins and anti-joins are")
    pairs = [parse_value(cursor)]
    while cursor.at_symbol(","):
        cursor.advance()
        pairs.append(parse_value(cursor))
    cursor.expect_symbol(")")
    return tuple(value for value, _ in pairs), tuple(at for _, at in pairs)


def parse_value(cursor: Cursor) -> tuple[Value, int]:
    """Return one literal and its offset: string, number, boolean, null, date, dateTime or date literal."""
    token = cursor.peek()
    if token.kind in ("string", "number", "date", "datetime"):
        cursor.advance()
        return token.value, token.at
    if token.kind != "name" or "." in token.text:
        raise build_unexpected_error(cursor.text, token)
    word, _, count = token.text.upper().partition(":")
    if not count and word in ("TRUE", "FALSE", "NULL"):
        cursor.advance()
        return {"TRUE": True, "FALSE": False, "NULL": None}[word], token.at
    if not count and word in SIMPLE_DATE_LITERALS:
        cursor.advance()
        return RelativeDate(word), token.at
    if count and word in COUNTED_DATE_LITERALS:
        cursor.advance()
        return RelativeDate(word, int(count)), token.at
    raise build_unexpected_error(cursor.text, token)


def parse_order_list(cursor: Cursor) -> tuple[OrderItem, ...]:
    """Return the ORDER BY keys; defaults as sforce_api_calls_soql_select_orderby.htm states them."""
    items = [parse_order_item(cursor)]
    while cursor.at_symbol(","):
        cursor.advance()
        items.append(parse_order_item(cursor))
    return tuple(items)


def parse_order_item(cursor: Cursor) -> OrderItem:
    """Return `field [ASC|DESC] [NULLS FIRST|NULLS LAST]`; ASC puts nulls first, DESC last."""
    name = take_name(cursor)
    descending = False
    if cursor.at_keyword("ASC", "DESC"):
        descending = cursor.advance().text.upper() == "DESC"
    nulls_first = not descending
    if cursor.at_keyword("NULLS"):
        cursor.advance()
        if not cursor.at_keyword("FIRST", "LAST"):
            raise build_unexpected_error(cursor.text, cursor.peek())
        nulls_first = cursor.advance().text.upper() == "FIRST"
    return OrderItem(name.text, descending, nulls_first, name.at)


def parse_row_count(cursor: Cursor, keyword: str) -> int | None:
    """Return the number after LIMIT or OFFSET when the clause is there, else None."""
    if not cursor.at_keyword(keyword):
        return None
    cursor.advance()
    token = cursor.peek()
    if token.kind != "number" or not token.text.isdigit():
        raise build_unexpected_error(cursor.text, token)
    cursor.advance()
    return int(token.text)
