"""OData expressions to PostgreSQL: `$filter` and `$search` conditions as SQL text.

Pure: an AST and an entity set in, SQL text with named placeholders (`%(p1)s`) plus their values
out. Identifiers come only from the entity set's real columns (through `quote_identifier`);
every value is a bound parameter.

The OData rules a naive translation breaks (OData 4.01 Part 2 §5.1.1):
- comparisons (and `in`) are two-valued: `x ne 'a'` is true where x is null, `not (x eq 'a')`
  too; functions of null are null and `and`/`or`/`not` are three-valued, as in SQL. So `not` is
  pushed down to the leaves (De Morgan): a negated comparison becomes `(leaf) is not true`, a
  negated function or boolean column `not (leaf)` (`not contains(null, 'a')` stays null: no row);
- `contains`, `startswith` and `endswith` are substring tests: LIKE's `%`, `_` and `\\` are escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.odata import BadQuery, NotImplementedFeature
from app.odata.catalog import Column, EntitySet
from app.odata.filter import (
    MAX_DATETIME,
    MIN_DATETIME,
    Arithmetic,
    BoolOp,
    Call,
    Compare,
    In,
    Literal,
    Negate,
    Node,
    Not,
    Property,
)

NUMERIC = ("int", "decimal", "double")
SQL_COMPARISON = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
BOOLEAN_FUNCTIONS = frozenset({"contains", "startswith", "endswith", "matchespattern"})
# Canonical functions the feed does not implement: 501 rather than 400 (Part 1 §12.1.1 item 7).
UNSUPPORTED_FUNCTIONS = frozenset(
    {
        "totalseconds",
        "hassubset",
        "hassubsequence",
        "geo.distance",
        "geo.length",
        "geo.intersects",
        "cast",
        "isof",
        "case",
    }
)


@dataclass(frozen=True)
class Sql:
    text: str
    kind: str  # a filter kind (catalog.EDM_TYPES) or "null"
    literal: bool = False  # a bound, non-null literal
    column: Column | None = None


@dataclass
class Params:
    """Values for named placeholders, in the order they were bound."""

    values: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"%({name})s"


def like_pattern(text: str, *, prefix: bool, suffix: bool) -> str:
    """`text` as a LIKE pattern matching it literally (PostgreSQL's default LIKE escape is the backslash)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ("%" if prefix else "") + escaped + ("%" if suffix else "")


class FilterCompiler:
    """Compiles one entity set's `$filter` ASTs, binding their values into `params`."""

    def __init__(self, entity_set: EntitySet, params: Params):
        self.entity_set = entity_set
        self.params = params

    # -- predicates --------------------------------------------------------------------------

    def predicate(self, node: Node, negated: bool = False) -> str:
        """SQL that is true exactly where the OData boolean expression is true (or false, when `negated`)."""
        if isinstance(node, BoolOp):
            op = node.op if not negated else ("or" if node.op == "and" else "and")
            return "(" + f" {op} ".join(self.predicate(item, negated) for item in node.items) + ")"
        if isinstance(node, Not):
            return self.predicate(node.operand, not negated)
        if isinstance(node, Compare):
            return self.comparison(node, negated)
        if isinstance(node, In):
            return self._negate(self.membership(node), negated)
        if isinstance(node, Literal) and node.kind == "bool":
            return "true" if node.value != negated else "false"
        if isinstance(node, Literal) and node.kind == "null":
            return "false"  # null is not true, and `not null` is null
        expression = self.value(node)
        if expression.kind not in ("bool", "null"):
            raise BadQuery("$filter: the expression is not a condition (it is not true or false)", target="$filter")
        return f"not ({expression.text})" if negated else expression.text

    @staticmethod
    def _negate(text: str, negated: bool) -> str:
        """A two-valued negation: true where `text` is false or null."""
        return f"({text}) is not true" if negated else text

    def comparison(self, node: Compare, negated: bool) -> str:
        op = node.op
        if op == "ne":
            op, negated = "eq", not negated
        for this, other in ((node.left, node.right), (node.right, node.left)):
            # `contains(x,'a') eq true`, the shape of Salesforce's search: the condition itself.
            # positive: the condition itself (null and false both select nothing); negated: the
            # comparison is two-valued, so rows where the condition is null come back.
            if (
                op == "eq"
                and isinstance(other, Literal)
                and other.kind == "bool"
                and other.value is True
                and self._is_condition(this)
            ):
                return self._negate(self.predicate(this), negated)
        left, right = self.value(node.left), self.value(node.right)
        if left.kind == "null" or right.kind == "null":
            if op != "eq":
                return "false" if not negated else "true"  # null compared by order is false; not(false) is true
            if left.kind == "null" and right.kind == "null":
                return "true" if not negated else "false"
            operand = right if left.kind == "null" else left
            return f"{operand.text} is {'not ' if negated else ''}null"
        left, right = self._coerce(left, right), self._coerce(right, left)
        self._check_comparable(left, right, op)
        if op == "eq" and not (left.literal or right.literal):
            return f"{left.text} is {'' if negated else 'not '}distinct from {right.text}"
        leaf = f"{left.text} {SQL_COMPARISON[op]} {right.text}"
        if negated and op == "eq":
            return f"{left.text} is distinct from {right.text}"
        return self._negate(leaf, negated)

    def _is_condition(self, node: Node) -> bool:
        if isinstance(node, (BoolOp, Not, Compare, In)):
            return True
        if isinstance(node, Call):
            return node.name in BOOLEAN_FUNCTIONS
        if isinstance(node, Property):
            return self.entity_set.column(node.name, target="$filter").kind == "bool"
        return False

    def membership(self, node: In) -> str:
        left = self.value(node.left)
        if not node.items:
            return "false"
        values, null = [], False
        for item in node.items:
            compiled = self._coerce(self.value(item), left)
            if compiled.kind == "null":
                null = True
                continue
            self._check_comparable(left, compiled, "in")
            values.append(compiled)
        if all(value.literal for value in values):
            parts = [f"{left.text} in ({', '.join(value.text for value in values)})"] if values else []
        else:
            parts = [f"{left.text} is not distinct from {value.text}" for value in values]
        if null:
            parts.append(f"{left.text} is null")
        return "(" + " or ".join(parts) + ")"

    # -- values ------------------------------------------------------------------------------

    def value(self, node: Node) -> Sql:
        """A non-boolean-context expression: its SQL text and kind."""
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Property):
            column = self.entity_set.column(node.name, target="$filter")
            return Sql(column.sql, column.kind, column=column)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Arithmetic):
            return self.arithmetic(node)
        if isinstance(node, Negate):
            operand = self.value(node.operand)
            if operand.kind not in NUMERIC:
                raise BadQuery("$filter: `-` applies to numbers only", target="$filter")
            return Sql(f"(- {operand.text})", operand.kind)
        return Sql(f"({self.predicate(node)})", "bool")

    def literal(self, node: Literal) -> Sql:
        if node.kind == "null":
            return Sql("null", "null")
        value = node.value
        if node.kind == "double" and (math.isnan(value) or math.isinf(value)):
            return Sql(f"{self.params.bind(value)}::float8", "double", literal=True)
        placeholder = self.params.bind(value)
        if node.kind == "string":
            # Typed as text so functions and concatenation resolve; _coerce drops the cast when the
            # literal meets a column, so PostgreSQL reads it as the column's type and uses its index.
            return Sql(f"{placeholder}::text", "string", literal=True)
        return Sql(placeholder, node.kind, literal=True)

    @staticmethod
    def _coerce(this: Sql, other: Sql) -> Sql:
        """A string literal compared with a column, untyped: `id = $1` (index-friendly; uuid/date columns parse it)."""
        if this.literal and this.kind == "string" and other.column is not None and this.text.endswith("::text"):
            kind = other.kind if other.kind in ("string", "guid", "date", "datetime", "time") else "string"
            return Sql(this.text[: -len("::text")], kind, literal=True)
        return this

    @staticmethod
    def _check_comparable(left: Sql, right: Sql, op: str) -> None:
        kinds = {left.kind, right.kind}
        if len(kinds) == 1 or kinds <= set(NUMERIC) or kinds <= {"date", "datetime"} or kinds <= {"string", "guid"}:
            if op not in ("eq", "ne", "in") and kinds & {"bool", "binary"} and kinds != {"bool"}:
                raise BadQuery(f"$filter: cannot order-compare {left.kind} values", target="$filter")
            return
        raise BadQuery(f"$filter: cannot compare a {left.kind} with a {right.kind}", target="$filter")

    def arithmetic(self, node: Arithmetic) -> Sql:
        left, right = self.value(node.left), self.value(node.right)
        if left.kind == "null" or right.kind == "null":
            return Sql("null", "null")
        if left.kind not in NUMERIC or right.kind not in NUMERIC:
            raise (
                NotImplementedFeature(
                    f"$filter: `{node.op}` is supported on numbers only, not {left.kind} and {right.kind}",
                    target="$filter",
                )
                if {left.kind, right.kind} & {"date", "datetime", "time"}
                else BadQuery(f"$filter: `{node.op}` needs numbers, not {left.kind} and {right.kind}", target="$filter")
            )
        kind = (
            "double"
            if "double" in (left.kind, right.kind)
            else "decimal"
            if "decimal" in (left.kind, right.kind)
            else "int"
        )
        if node.op == "mod":
            return Sql(f"mod({left.text}, {right.text})", kind)
        if node.op == "divby":
            return Sql(f"({left.text}::numeric / {right.text})", "decimal" if kind != "double" else kind)
        symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[node.op]
        return Sql(f"({left.text} {symbol} {right.text})", kind)

    def call(self, node: Call) -> Sql:
        name, args = node.name, node.args
        if name in UNSUPPORTED_FUNCTIONS:
            raise NotImplementedFeature(f"$filter: the function {name}() is not supported", target="$filter")
        handler = getattr(self, f"_fn_{name.replace('.', '_')}", None)
        if handler is None:
            raise BadQuery(f"$filter: unknown function {name}()", target="$filter")
        return handler(args)

    def _args(self, args: tuple[Node, ...], name: str, kinds: tuple[tuple[str, ...], ...]) -> list[Sql]:
        if len(args) != len(kinds):
            raise BadQuery(f"$filter: {name}() takes {len(kinds)} argument(s), got {len(args)}", target="$filter")
        compiled = [self.value(arg) for arg in args]
        for position, (value, allowed) in enumerate(zip(compiled, kinds, strict=True), start=1):
            if value.kind != "null" and value.kind not in allowed:
                raise BadQuery(
                    f"$filter: argument {position} of {name}() must be {' or '.join(allowed)}, not {value.kind}",
                    target="$filter",
                )
        return compiled

    def _substring_test(self, args: tuple[Node, ...], name: str, prefix: bool, suffix: bool) -> Sql:
        haystack, needle = self._args(args, name, (("string",), ("string",)))
        if needle.kind == "null" or haystack.kind == "null":
            return Sql("null", "bool")
        literal = args[1] if isinstance(args[1], Literal) else None
        if literal is not None:
            pattern = self.params.bind(like_pattern(literal.value, prefix=prefix, suffix=suffix))
            return Sql(f"({haystack.text} like {pattern})", "bool")
        if prefix and suffix:
            return Sql(f"(strpos({haystack.text}, {needle.text}) > 0)", "bool")
        if suffix:  # startswith
            return Sql(f"starts_with({haystack.text}, {needle.text})", "bool")
        return Sql(f"(right({haystack.text}, char_length({needle.text})) = {needle.text})", "bool")

    def _fn_contains(self, args: tuple[Node, ...]) -> Sql:
        return self._substring_test(args, "contains", prefix=True, suffix=True)

    def _fn_startswith(self, args: tuple[Node, ...]) -> Sql:
        return self._substring_test(args, "startswith", prefix=False, suffix=True)

    def _fn_endswith(self, args: tuple[Node, ...]) -> Sql:
        return self._substring_test(args, "endswith", prefix=True, suffix=False)

    def _fn_matchespattern(self, args: tuple[Node, ...]) -> Sql:
        text, pattern = self._args(args, "matchesPattern", (("string",), ("string",)))
        return Sql(f"({text.text} ~ {pattern.text})", "bool")

    def _fn_tolower(self, args: tuple[Node, ...]) -> Sql:
        (text,) = self._args(args, "tolower", (("string",),))
        return Sql(f"lower({text.text})", "string")

    def _fn_toupper(self, args: tuple[Node, ...]) -> Sql:
        (text,) = self._args(args, "toupper", (("string",),))
        return Sql(f"upper({text.text})", "string")

    def _fn_trim(self, args: tuple[Node, ...]) -> Sql:
        (text,) = self._args(args, "trim", (("string",),))
        return Sql(f"btrim({text.text})", "string")

    def _fn_length(self, args: tuple[Node, ...]) -> Sql:
        (text,) = self._args(args, "length", (("string",),))
        return Sql(f"char_length({text.text})", "int")

    def _fn_indexof(self, args: tuple[Node, ...]) -> Sql:
        text, needle = self._args(args, "indexof", (("string",), ("string",)))
        return Sql(f"(strpos({text.text}, {needle.text}) - 1)", "int")  # OData positions are 0-based

    def _fn_concat(self, args: tuple[Node, ...]) -> Sql:
        left, right = self._args(args, "concat", (("string",), ("string",)))
        return Sql(f"({left.text} || {right.text})", "string")

    def _fn_substring(self, args: tuple[Node, ...]) -> Sql:
        if len(args) not in (2, 3):
            raise BadQuery(f"$filter: substring() takes 2 or 3 arguments, got {len(args)}", target="$filter")
        kinds = (("string",), ("int",), ("int",))[: len(args)]
        text, start, *length = self._args(args, "substring", kinds)
        # 0-based; a negative start counts from the end (4.01).
        begin = (
            f"(case when {start.text} >= 0 then {start.text} + 1 "
            f"else greatest(char_length({text.text}) + {start.text}, 0) + 1 end)"
        )
        if length:
            return Sql(f"substr({text.text}, {begin}, greatest({length[0].text}, 0))", "string")
        return Sql(f"substr({text.text}, {begin})", "string")

    def _date_part(self, args: tuple[Node, ...], name: str, field_name: str) -> Sql:
        (value,) = self._args(args, name, (("date", "datetime", "time"),))
        return Sql(f"cast(extract({field_name} from {value.text}) as integer)", "int")

    def _fn_year(self, args: tuple[Node, ...]) -> Sql:
        return self._date_part(args, "year", "year")

    def _fn_month(self, args: tuple[Node, ...]) -> Sql:
        return self._date_part(args, "month", "month")

    def _fn_day(self, args: tuple[Node, ...]) -> Sql:
        return self._date_part(args, "day", "day")

    def _fn_hour(self, args: tuple[Node, ...]) -> Sql:
        return self._date_part(args, "hour", "hour")

    def _fn_minute(self, args: tuple[Node, ...]) -> Sql:
        return self._date_part(args, "minute", "minute")

    def _fn_second(self, args: tuple[Node, ...]) -> Sql:
        (value,) = self._args(args, "second", (("datetime", "time"),))
        return Sql(f"cast(floor(extract(second from {value.text})) as integer)", "int")

    def _fn_fractionalseconds(self, args: tuple[Node, ...]) -> Sql:
        (value,) = self._args(args, "fractionalseconds", (("datetime", "time"),))
        seconds = f"extract(second from {value.text})"
        return Sql(f"({seconds} - floor({seconds}))", "decimal")

    def _fn_date(self, args: tuple[Node, ...]) -> Sql:
        (value,) = self._args(args, "date", (("datetime", "date"),))
        return Sql(f"cast({value.text} as date)", "date")

    def _fn_time(self, args: tuple[Node, ...]) -> Sql:
        (value,) = self._args(args, "time", (("datetime", "time"),))
        return Sql(f"cast({value.text} as time)", "time")

    def _fn_totaloffsetminutes(self, args: tuple[Node, ...]) -> Sql:
        (value,) = self._args(args, "totaloffsetminutes", (("datetime",),))
        return Sql(f"(case when {value.text} is null then null else 0 end)", "int")  # timestamps are served in UTC

    def _fn_now(self, args: tuple[Node, ...]) -> Sql:
        self._args(args, "now", ())
        return Sql("now()", "datetime")

    def _fn_mindatetime(self, args: tuple[Node, ...]) -> Sql:
        self._args(args, "mindatetime", ())
        return Sql(self.params.bind(MIN_DATETIME), "datetime", literal=True)

    def _fn_maxdatetime(self, args: tuple[Node, ...]) -> Sql:
        self._args(args, "maxdatetime", ())
        return Sql(self.params.bind(MAX_DATETIME), "datetime", literal=True)

    def _rounding(self, args: tuple[Node, ...], name: str, sql_name: str) -> Sql:
        (value,) = self._args(args, name, (NUMERIC,))
        return Sql(f"{sql_name}({value.text})", value.kind)

    def _fn_round(self, args: tuple[Node, ...]) -> Sql:
        return self._rounding(args, "round", "round")

    def _fn_floor(self, args: tuple[Node, ...]) -> Sql:
        return self._rounding(args, "floor", "floor")

    def _fn_ceiling(self, args: tuple[Node, ...]) -> Sql:
        return self._rounding(args, "ceiling", "ceil")


def compile_filter(node: Node, entity_set: EntitySet, params: Params) -> str:
    """The WHERE condition for a `$filter` AST."""
    return FilterCompiler(entity_set, params).predicate(node)


def compile_search(phrase: str, entity_set: EntitySet, params: Params) -> str:
    """The WHERE condition for `$search`: the phrase as a case-sensitive substring of any string property."""
    columns = [column for column in entity_set.columns if column.kind == "string"]
    if not columns:
        return "false"
    pattern = params.bind(like_pattern(phrase, prefix=True, suffix=True))
    return "(" + " or ".join(f"{column.sql} like {pattern}" for column in columns) + ")"
