"""`$filter` expressions: a tokenizer and a precedence-climbing parser from OData text to a small AST.

Written here rather than on top of `odata-query` because its lexer mis-reads names that start
with keywords (`allowed`, `nullable`), needs a space in `not(`, a trailing comma in `in (1)`,
four-digit years from 1000 and seconds in times, and knows no parameter aliases (README.md, "The
stack" lists each bug with its test). Grammar: OData 4.01 Part 2 §5.1.1 and the ABNF
(odata-abnf-construction-rules.txt); names of operators and functions are case-insensitive (4.01).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from app.odata import BadQuery, NotImplementedFeature

MAX_DEPTH = 100  # nesting of parentheses, calls and `not`; deeper input is refused, not a RecursionError


@dataclass(frozen=True)
class Literal:
    value: Any
    kind: str  # null string int decimal double bool date datetime time guid binary


@dataclass(frozen=True)
class Property:
    name: str


@dataclass(frozen=True)
class Call:
    name: str  # lower-case
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str  # eq ne gt ge lt le
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # and, or; flattened so long search chains do not nest
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Arithmetic:
    op: str  # add sub mul div divby mod
    left: Node
    right: Node


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class In:
    left: Node
    items: tuple[Node, ...]


Node = Literal | Property | Call | Compare | BoolOp | Not | Arithmetic | Negate | In

COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
# Binding power of infix operators (OData 4.01 Part 2 §5.1.1.16 "Operator Precedence").
INFIX_POWER = {
    "or": 1,
    "and": 2,
    "eq": 3,
    "ne": 3,
    "gt": 4,
    "ge": 4,
    "lt": 4,
    "le": 4,
    "in": 4,
    "has": 4,
    "add": 5,
    "sub": 5,
    "mul": 6,
    "div": 6,
    "divby": 6,
    "mod": 6,
}
# `not` takes a comparison as its operand (`not Name eq 'x'` is `not (Name eq 'x')`), as the ABNF's
# notExpr = "not" RWS boolCommonExpr reads and as clients write it.
NOT_OPERAND_POWER = 2

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![\w-])
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,12})?)?(?:Z|z|[+-]\d{2}:\d{2})?)(?![\w:.])
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\w-])
  | (?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,12})?)?)(?![\w:.])
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
  | (?P<string>'(?:[^']|'')*')
  | (?P<typed>[A-Za-z_][\w.]*'(?:[^']|'')*')
  | (?P<word>\$?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
  | (?P<alias>@[A-Za-z_]\w*)
  | (?P<punct>[(),/\[\]:-])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    """The tokens of `text` (whitespace dropped); raises BadQuery at the first character that starts none."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise BadQuery(f"unexpected character {text[position]!r} at position {position}", target="$filter")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


def parse_filter(text: str, aliases: Mapping[str, str] | None = None) -> Node:
    """The AST of the `$filter` expression `text`; `aliases` maps `@name` to its (URL-decoded) value."""
    return _Parser(text, aliases or {}, "$filter").parse()


def parse_expression(text: str, aliases: Mapping[str, str] | None = None, *, target: str) -> Node:
    """The AST of any common expression (used for parameter aliases and keys); errors name `target`."""
    return _Parser(text, aliases or {}, target).parse()


class _Parser:
    def __init__(self, text: str, aliases: Mapping[str, str], target: str, resolving: tuple[str, ...] = ()):
        self.text = text
        self.target = target
        self.aliases = aliases
        self.resolving = resolving
        try:
            self.tokens = tokenize(text)
        except BadQuery as error:
            raise BadQuery(f"{target}: {error.message}", target=target) from None
        self.index = 0
        self.depth = 0

    def error(self, message: str) -> BadQuery:
        return BadQuery(f"{self.target}: {message}", target=self.target)

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error("the expression ends too early")
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise self.error(f"expected {text!r} at position {token.position}, found {token.text!r}")

    def parse(self) -> Node:
        if not self.tokens:
            raise self.error("the expression is empty")
        node = self.expression(0)
        token = self.peek()
        if token is not None:
            raise self.error(f"unexpected {token.text!r} at position {token.position}")
        return node

    def expression(self, min_power: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the expression nests deeper than {MAX_DEPTH} levels")
        left = self.prefix()
        while True:
            token = self.peek()
            if token is None or token.kind != "word":
                break
            op = token.text.lower()
            power = INFIX_POWER.get(op)
            if power is None:
                raise self.error(f"expected an operator at position {token.position}, found {token.text!r}")
            if power <= min_power:
                break
            self.index += 1
            if op == "in":
                left = In(left, self.item_list())
            elif op == "has":
                raise NotImplementedFeature(
                    "$filter: the `has` operator (enumerations) is not supported", target=self.target
                )
            elif op in ("and", "or"):
                right = self.expression(power)
                items = (left.items if isinstance(left, BoolOp) and left.op == op else (left,)) + (right,)
                left = BoolOp(op, items)
            elif op in COMPARISONS:
                left = Compare(op, left, self.expression(power))
            else:
                left = Arithmetic(op, left, self.expression(power))
        self.depth -= 1
        return left

    def item_list(self) -> tuple[Node, ...]:
        token = self.take()
        if token.text not in ("(", "["):
            raise self.error(f"expected '(' after `in` at position {token.position}")
        closing = ")" if token.text == "(" else "]"
        items: list[Node] = []
        while True:
            if (upcoming := self.peek()) is not None and upcoming.text == closing:  # `in ()`, a trailing comma: 4.01
                self.index += 1
                return tuple(items)
            items.append(self.expression(0))
            token = self.take()
            if token.text == closing:
                return tuple(items)
            if token.text != ",":
                raise self.error(f"expected ',' or {closing!r} at position {token.position}")

    def prefix(self) -> Node:
        token = self.take()
        if token.kind == "punct":
            if token.text == "(":
                node = self.expression(0)
                self.expect(")")
                return node
            if token.text == "-":
                operand = self.prefix()
                if isinstance(operand, Literal) and operand.kind in ("int", "decimal", "double"):
                    return Literal(-operand.value, operand.kind)
                return Negate(operand)
            raise self.error(f"unexpected {token.text!r} at position {token.position}")
        if token.kind == "alias":
            return self.alias(token)
        if token.kind == "word":
            return self.word(token)
        return literal_from_token(token, self.error)

    def alias(self, token: Token) -> Node:
        name = token.text
        if name in self.resolving:
            raise self.error(f"parameter alias {name} refers to itself")
        if name not in self.aliases:
            # OData: an alias without a value is null (Part 2 §5.1.1.14.1... "treated as null").
            return Literal(None, "null")
        parser = _Parser(self.aliases[name], self.aliases, f"{self.target} ({name})", (*self.resolving, name))
        return parser.parse()

    def word(self, token: Token) -> Node:
        lower = token.text.lower()
        following = self.peek()
        if lower == "not":
            self.depth += 1
            operand = self.expression(NOT_OPERAND_POWER)
            self.depth -= 1
            return Not(operand)
        if lower == "null":
            return Literal(None, "null")
        if lower in ("true", "false"):
            return Literal(lower == "true", "bool")
        if token.text in ("INF", "NaN"):
            return Literal(float("inf") if token.text == "INF" else float("nan"), "double")
        if token.text.startswith("$"):
            raise NotImplementedFeature(f"{self.target}: {token.text} is not supported", target=self.target)
        if following is not None and following.text == "(":
            self.index += 1
            return Call(lower, self.arguments())
        if following is not None and following.text == "/":
            raise NotImplementedFeature(
                f"{self.target}: paths like {token.text}/... (navigation, any/all, $count) are not supported: "
                "views have no navigation properties",
                target=self.target,
            )
        if lower in INFIX_POWER:
            raise self.error(f"expected a value at position {token.position}, found the operator {token.text!r}")
        return Property(token.text)

    def arguments(self) -> tuple[Node, ...]:
        args: list[Node] = []
        if (upcoming := self.peek()) is not None and upcoming.text == ")":
            self.index += 1
            return ()
        self.depth += 1
        while True:
            args.append(self.expression(0))
            token = self.take()
            if token.text == ")":
                self.depth -= 1
                return tuple(args)
            if token.text != ",":
                raise self.error(f"expected ',' or ')' at position {token.position}, found {token.text!r}")


def literal_from_token(token: Token, error: Callable[[str], BadQuery]) -> Literal:
    """The typed literal a token spells (string, number, date, time, GUID, binary); raises `error(...)` when invalid."""
    text = token.text
    try:
        if token.kind == "string":
            return Literal(text[1:-1].replace("''", "'"), "string")
        if token.kind == "number":
            if re.fullmatch(r"\d+", text):
                return Literal(int(text), "int")
            if "e" in text.lower():
                return Literal(float(text), "double")
            return Literal(Decimal(text), "decimal")
        if token.kind == "date":
            return Literal(date.fromisoformat(text), "date")
        if token.kind == "datetime":
            return Literal(parse_datetime(text), "datetime")
        if token.kind == "time":
            return Literal(time.fromisoformat(_pad_fraction(text)), "time")
        if token.kind == "guid":
            return Literal(uuid.UUID(text), "guid")
        if token.kind == "typed":
            prefix, _, rest = text.partition("'")
            body = rest[:-1].replace("''", "'")
            if prefix.lower() == "binary":
                return Literal(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)), "binary")
            if prefix.lower() == "duration":
                raise NotImplementedFeature("duration literals are not supported: no view column is an Edm.Duration")
            raise error(f"unknown typed literal {prefix}'...' at position {token.position}")
    except (ValueError, InvalidOperation, OverflowError) as problem:
        raise error(f"invalid literal {text!r} at position {token.position}: {problem}") from None
    raise error(f"unexpected {text!r} at position {token.position}")


def parse_datetime(text: str) -> datetime:
    """A DateTimeOffset literal as an aware datetime; one without an offset is taken as UTC (lenient, documented)."""
    value = datetime.fromisoformat(_pad_fraction(text.replace("z", "Z").replace("Z", "+00:00")))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _pad_fraction(text: str) -> str:
    """`text` with a fractional second cut to the 6 digits Python's parsers accept."""
    return re.sub(r"\.(\d{6})\d+", r".\1", text)


MIN_DATETIME = datetime(1, 1, 1, tzinfo=UTC)
MAX_DATETIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(0)))
