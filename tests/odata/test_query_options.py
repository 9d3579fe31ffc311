"""System query options parsed from the raw query string (pure), and the SQL the compiler builds from them."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from app.odata import BadQuery, NotImplementedFeature
from app.odata.catalog import EntitySet, column_for
from app.odata.compiler import Params
from app.odata.filter import Compare, Literal, Property
from app.odata.ordering import OrderItem, compile_keyset, compile_order, complete_order
from app.odata.paging import (
    Position,
    decode_skiptoken,
    encode_skiptoken,
    next_link,
    preferred_page_size,
)
from app.odata.query import ODataQuery, page_statement, parse_query, selected_columns, split_query_string

PEOPLE = EntitySet(
    "people",
    "people",
    (
        column_for("id", "id", "varchar", 22, True),
        column_for("geo", "geo", "text", -1, False),
        column_for("lastname", "lastname", "varchar", 84, False),
        column_for("amount", "amount", "numeric", ((12 << 16) | 2) + 4, False),
    ),
)


def test_option_names_are_case_insensitive_and_the_dollar_is_optional():
    query = parse_query("$FILTER=geo%20eq%20'A'&Top=5&$Skip=2&count=TRUE&$select=geo&orderBy=geo%20DESC")
    assert query == ODataQuery(
        select=("geo",),
        filter=Compare("eq", Property("geo"), Literal("A", "string")),
        orderby=(("geo", True),),
        top=5,
        skip=2,
        count=True,
        pairs=query.pairs,
    )


def test_plus_between_tokens_is_a_space_but_a_plus_in_a_literal_and_a_timestamp_offset():
    # A raw quote: not form-encoded, so the `+` in 'a+b' is a plus sign (OData URLs are RFC 3986).
    query = parse_query("$filter=updated+gt+2024-01-01T00:00:00+01:00+and+geo+eq+'a+b'")
    assert query.filter.items[0].right.value.isoformat() == "2024-01-01T00:00:00+01:00"
    assert query.filter.items[1].right.value == "a+b"


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        # JavaScript OData clients: spaces as %20, a plus left raw.
        ("$filter=startswith(phone,'+1%20415')", ["startswith(phone,'+1 415')"]),
        ("$filter=startswith(phone,%27+1415%27)&$top=2", ["startswith(phone,'+1415')", "2"]),
        # Form-encoded (Python requests' params, URLSearchParams): every + is a space, a plus is %2B.
        (urlencode({"$filter": "startswith(phone,'+1 415')"}), ["startswith(phone,'+1 415')"]),
        (urlencode({"$search": "a b", "$orderby": "lastname desc"}), ["a b", "lastname desc"]),
        # Hand-typed: + between tokens is a space, inside the literal a plus.
        ("$filter=lastname+eq+'O''Br+ien'", ["lastname eq 'O''Br+ien'"]),
        ("$filter=n+gt+1e+5", ["n gt 1e+5"]),
        ("$filter=x eq 'a'&$search=a+b", ["x eq 'a'", "a+b"]),
        ("$orderby=lastname+desc", ["lastname desc"]),
    ],
)
def test_plus_is_a_space_only_where_the_query_string_is_form_encoded(raw, values):
    assert [value for _, value, _ in split_query_string(raw)] == values


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("$top=-1", BadQuery),
        ("$top=x", BadQuery),
        ("$skip=1.5", BadQuery),
        ("$count=yes", BadQuery),
        ("$top=1&top=2", BadQuery),
        ("$unknown=1", BadQuery),
        ("$select=", BadQuery),
        ("$orderby=geo%20up", BadQuery),
        ("$search=", BadQuery),
        ("$filter=%ff", BadQuery),
        ("$expand=x", NotImplementedFeature),
        ("$apply=x", NotImplementedFeature),
        ("$compute=x", NotImplementedFeature),
        ("$orderby=tolower(geo)", NotImplementedFeature),
        ("$select=a/b", NotImplementedFeature),
    ],
)
def test_bad_options_are_refused(raw, error):
    with pytest.raises(error):
        parse_query(raw)


def test_custom_options_are_ignored_but_kept_for_links():
    query = parse_query("sap-client=100&$top=3")
    assert query.top == 3
    assert [name for name, _ in query.pairs] == ["sap-client", "top"]


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [("$search=Acme", "Acme"), ('$search="John%20Smith"', "John Smith"), ("$search=a%20OR%20b", "a OR b")],
)
def test_search_is_one_literal_phrase(raw, phrase):
    assert parse_query(raw).search == phrase


def test_order_by_the_key_has_no_nulls_clause_and_other_columns_follow_odata_null_order():
    items = complete_order(PEOPLE, (OrderItem(PEOPLE.columns[2]), OrderItem(PEOPLE.columns[3], descending=True)))
    assert compile_order(items) == '"lastname" nulls first, "amount" desc nulls last, "id"'
    assert compile_order(complete_order(PEOPLE, ())) == '"id"'


def test_a_keyset_on_the_key_alone_is_a_plain_range():
    params = Params()
    assert compile_keyset(complete_order(PEOPLE, ()), ["a05"], params) == '"id" > %(p0)s'
    assert params.values == {"p0": "a05"}


def test_a_keyset_after_a_null_in_an_ascending_column_continues_with_the_rest_of_the_nulls():
    params = Params()
    items = complete_order(PEOPLE, (OrderItem(PEOPLE.columns[2]),))
    assert compile_keyset(items, [None, "a03"], params) == (
        '(("lastname" is not null) or ("lastname" is null and "id" > %(p0)s))'
    )


def test_the_page_statement_uses_keyset_never_offset_once_paging():
    query = parse_query("$select=geo")
    order = complete_order(PEOPLE, ())
    statement = page_statement(
        query, PEOPLE, selected_columns(PEOPLE, query.select), order, limit=2000, after=["a05"], offset=0
    )
    assert (
        statement.sql
        == 'select "id", "geo", "id" as _sort0 from "public"."people" where "id" > %(p0)s order by "id" limit 2001'
    )


@pytest.mark.parametrize(
    ("headers", "size"),
    [
        (["odata.maxpagesize=50"], 50),
        (["maxpagesize=10"], 10),
        (["return=minimal, odata.maxpagesize=7"], 7),
        (["odata.maxpagesize=99999"], 2000),
        (["odata.maxpagesize=0"], None),
        (["odata.maxpagesize=-3"], None),
        (["odata.maxpagesize"], None),
        ([], None),
    ],
)
def test_maxpagesize_is_clamped_and_nonsense_is_ignored(headers, size):
    assert preferred_page_size(headers) == size


def test_skiptokens_round_trip_typed_values_and_reject_garbage():
    from datetime import UTC, date, datetime
    from decimal import Decimal

    position = Position(
        [None, "x", 3, Decimal("1.10"), date(2024, 1, 2), datetime(2024, 1, 2, 3, tzinfo=UTC), 1.5], 4000
    )
    assert decode_skiptoken(encode_skiptoken(position)) == position
    for garbage in ["", "garbage", "e30", encode_skiptoken(Position(["a"], 1)) + "x!"]:
        with pytest.raises(BadQuery):
            decode_skiptoken(garbage)


def test_next_link_keeps_every_option_as_the_client_encoded_it():
    query = parse_query("$filter=geo%20eq%20'A'&$top=5000&custom=1&$skiptoken=old")
    assert next_link("http://h/odata/v4/f/people", query.pairs, "NEW") == (
        "http://h/odata/v4/f/people?$filter=geo%20eq%20'A'&$top=5000&custom=1&$skiptoken=NEW"
    )
