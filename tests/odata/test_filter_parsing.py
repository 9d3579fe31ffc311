"""The $filter parser alone: precedence, literals, 4.01 leniencies and every odata-query bug case (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from app.odata import BadQuery, NotImplementedFeature
from app.odata.filter import (
    Arithmetic,
    BoolOp,
    Call,
    Compare,
    In,
    Literal,
    Negate,
    Not,
    Property,
    parse_filter,
)

P = Property


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Name eq 'a'", Compare("eq", P("Name"), Literal("a", "string"))),
        ("Name eq 'O''Brien'", Compare("eq", P("Name"), Literal("O'Brien", "string"))),
        (
            "a eq 1 or b eq 2 and c eq 3",
            BoolOp(
                "or",
                (
                    Compare("eq", P("a"), Literal(1, "int")),
                    BoolOp("and", (Compare("eq", P("b"), Literal(2, "int")), Compare("eq", P("c"), Literal(3, "int")))),
                ),
            ),
        ),
        (
            "a eq 1 or b eq 2 or c eq 3",  # flattened: long search chains do not nest
            BoolOp("or", tuple(Compare("eq", P(n), Literal(i, "int")) for n, i in (("a", 1), ("b", 2), ("c", 3)))),
        ),
        (
            "(a eq 1 or b eq 2) and c eq 3",
            BoolOp(
                "and",
                (
                    BoolOp("or", (Compare("eq", P("a"), Literal(1, "int")), Compare("eq", P("b"), Literal(2, "int")))),
                    Compare("eq", P("c"), Literal(3, "int")),
                ),
            ),
        ),
        (
            "a add 2 mul 3 gt 7",
            Compare(
                "gt",
                Arithmetic("add", P("a"), Arithmetic("mul", Literal(2, "int"), Literal(3, "int"))),
                Literal(7, "int"),
            ),
        ),
        ("not a eq 1 and b", BoolOp("and", (Not(Compare("eq", P("a"), Literal(1, "int"))), P("b")))),
        (
            "contains(Name,'x') eq true",
            Compare("eq", Call("contains", (P("Name"), Literal("x", "string"))), Literal(True, "bool")),
        ),
        ("a eq -1.5", Compare("eq", P("a"), Literal(Decimal("-1.5"), "decimal"))),
        ("a eq 1e3", Compare("eq", P("a"), Literal(1000.0, "double"))),
        ("a eq 12345678901234567890", Compare("eq", P("a"), Literal(12345678901234567890, "int"))),
        ("a eq null", Compare("eq", P("a"), Literal(None, "null"))),
        (
            "a EQ NULL Or b Eq TRUE",
            BoolOp("or", (Compare("eq", P("a"), Literal(None, "null")), Compare("eq", P("b"), Literal(True, "bool")))),
        ),
        ("d eq 2024-01-31", Compare("eq", P("d"), Literal(date(2024, 1, 31), "date"))),
        (
            "t gt 2024-01-31T10:00:00Z",
            Compare("gt", P("t"), Literal(datetime(2024, 1, 31, 10, tzinfo=UTC), "datetime")),
        ),
        (
            "t gt 2024-01-31T10:00:00.1234567+02:00",
            Compare(
                "gt",
                P("t"),
                Literal(datetime(2024, 1, 31, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))), "datetime"),
            ),
        ),
        (
            "g eq 01234567-89ab-cdef-0123-456789abcdef",
            Compare("eq", P("g"), Literal(uuid.UUID("01234567-89ab-cdef-0123-456789abcdef"), "guid")),
        ),
        ("b eq binary'AAEC'", Compare("eq", P("b"), Literal(b"\x00\x01\x02", "binary"))),
        ("x in ('a', 'b')", In(P("x"), (Literal("a", "string"), Literal("b", "string")))),
        ("a eq INF", Compare("eq", P("a"), Literal(float("inf"), "double"))),
    ],
)
def test_parses(text, expected):
    assert parse_filter(text) == expected


# The odata-query 0.10 bugs of the project's OData producer notes (shared/reference/odata-producers.md, §2.2),
# each parsing here.
@pytest.mark.parametrize(
    ("bug", "text", "expected"),
    [
        ("B1", "AllowedValue eq 'a'", Compare("eq", P("AllowedValue"), Literal("a", "string"))),
        ("B1", "anything eq 'a'", Compare("eq", P("anything"), Literal("a", "string"))),
        ("B1", "nullable_col eq 1", Compare("eq", P("nullable_col"), Literal(1, "int"))),
        ("B1", "NullCount eq 1", Compare("eq", P("NullCount"), Literal(1, "int"))),
        ("B1", "TrueCost gt 2", Compare("gt", P("TrueCost"), Literal(2, "int"))),
        ("B1", "falsey eq false", Compare("eq", P("falsey"), Literal(False, "bool"))),
        ("B1", "notes eq 'x'", Compare("eq", P("notes"), Literal("x", "string"))),
        ("B1", "index eq 1", Compare("eq", P("index"), Literal(1, "int"))),
        ("B2", "not(contains(Name,'x'))", Not(Call("contains", (P("Name"), Literal("x", "string"))))),
        ("B6", "Contains(Name,'x')", Call("contains", (P("Name"), Literal("x", "string")))),
        ("B6", "STARTSWITH(Name,'x')", Call("startswith", (P("Name"), Literal("x", "string")))),
        ("B6", "ToLower(Name) eq 'x'", Compare("eq", Call("tolower", (P("Name"),)), Literal("x", "string"))),
        ("B7", "id in (1)", In(P("id"), (Literal(1, "int"),))),
        ("B7", "id in ()", In(P("id"), ())),
        ("B7", "id in (1,)", In(P("id"), (Literal(1, "int"),))),
        ("B8", "d eq 0001-01-01", Compare("eq", P("d"), Literal(date(1, 1, 1), "date"))),
        ("B8", "t eq 0001-01-01T00:00:00Z", Compare("eq", P("t"), Literal(datetime(1, 1, 1, tzinfo=UTC), "datetime"))),
        ("B9", "t eq 09:30", Compare("eq", P("t"), Literal(time(9, 30), "time"))),
        ("B10", "Name eq @p", Compare("eq", P("Name"), Literal("x", "string"))),
        ("B11", "-amount lt 0", Compare("lt", Negate(P("amount")), Literal(0, "int"))),
        (
            "B12",
            "t gt 2024-01-01T00:00:00",
            Compare("gt", P("t"), Literal(datetime(2024, 1, 1, tzinfo=UTC), "datetime")),
        ),
    ],
)
def test_parses_what_odata_query_could_not(bug, text, expected):
    assert parse_filter(text, {"@p": "'x'"}) == expected


def test_parameter_alias_may_hold_an_expression_and_an_unset_alias_is_null():
    assert parse_filter("a eq @x", {"@x": "@y", "@y": "3"}) == Compare("eq", P("a"), Literal(3, "int"))
    assert parse_filter("a eq @missing") == Compare("eq", P("a"), Literal(None, "null"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Name eq",
        "Name eq 'unterminated",
        "eq 1",
        "Name 'x'",
        "(a eq 1",
        "a eq 1)",
        "contains(a,'b'",
        "a eq 2024-13-01",
        "a eq 25:00",
        "a in 1",
        "a eq @p",
        "a eq #",
        "a eq foo'x'",
        "a eq 1 2",
        "(" * 150 + "a eq 1" + ")" * 150,
    ],
)
def test_rejects_malformed_filters_with_400(text):
    with pytest.raises(BadQuery):
        parse_filter(text, {"@p": "@p"})


@pytest.mark.parametrize(
    "text",
    [
        "tags/any(t: t eq 'a')",
        "$it/Name eq 'a'",
        "Color has Ns.Color'Red'",
        "d eq duration'P1D'",
        "x/$count gt 1",
    ],
)
def test_unsupported_syntax_is_501(text):
    with pytest.raises(NotImplementedFeature):
        parse_filter(text)
