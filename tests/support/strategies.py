"""Hypothesis strategies for OData input, shared by the feed's property tests and the hostile-input tests.

tests/odata/test_never_500.py draws from them against the Flask test client, tests/reliability
(and tests/soak) against gunicorn; each passes the property names and literals of its own views.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

# Canonical function names of OData 4.01 URL Conventions §5.1.1, misspellings, and names that are not OData.
FUNCTIONS = [
    "contains",
    "startswith",
    "endswith",
    "tolower",
    "toupper",
    "length",
    "indexof",
    "substring",
    "trim",
    "concat",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "fractionalseconds",
    "date",
    "time",
    "totaloffsetminutes",
    "now",
    "mindatetime",
    "maxdatetime",
    "round",
    "floor",
    "ceiling",
    "matchesPattern",
    "geo.distance",
    "cast",
    "isof",
    "nosuch",
    "pg_sleep",
]
# OData's logical and arithmetic operators (§5.1.1.1–2), and SQL's that OData lacks.
OPERATORS = [
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "and",
    "or",
    "add",
    "sub",
    "mul",
    "div",
    "divby",
    "mod",
    "in",
    "has",
    "like",
    "||",
]


def unicode_text(max_size: int) -> SearchStrategy[str]:
    """Any text UTF-8 can carry (no lone surrogates), up to `max_size` characters."""
    return st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=max_size)


def filter_expressions(atoms: Sequence[str], *, max_leaves: int) -> SearchStrategy[str]:
    """$filter-shaped text over `atoms`: binary operators, not, parentheses, negation, `in` lists and function calls.

    Most of what it draws is not valid OData (wrong arity, wrong types, unknown names): the point
    is input a parser and a SQL compiler must reject cleanly or answer correctly.
    """
    return st.recursive(
        st.sampled_from(list(atoms)),
        lambda children: st.one_of(
            st.builds(lambda a, op, b: f"{a} {op} {b}", children, st.sampled_from(OPERATORS), children),
            st.builds(lambda a: f"not ({a})", children),
            st.builds(lambda a: f"({a})", children),
            st.builds(lambda a: f"-{a}", children),
            st.builds(lambda a, items: f"{a} in ({','.join(items)})", children, st.lists(children, max_size=3)),
            st.builds(
                lambda name, args: f"{name}({','.join(args)})",
                st.sampled_from(FUNCTIONS),
                st.lists(children, max_size=3),
            ),
        ),
        max_leaves=max_leaves,
    )
