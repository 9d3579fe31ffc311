"""Feeds scoped to geos and columns: nothing outside the scope in $metadata, rows, counts, search or keys,
and the feed's database role refused on direct SQL outside it."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import text

from app.odata.feeds import create_feed, delete_feed, role_name_for
from app.views.scopes import scope_schema
from tests.support.feeds import FeedClient

EMEA = ["a04", "a05", "a06"]


@pytest.fixture(scope="module")
def scoped(engine, flask_app):
    name = f"s{uuid.uuid4().hex[:8]}"
    created = create_feed(
        engine, name, ["people", "big"], base_url="http://localhost", geos=["EMEA"], hide=["people.email", "big.label"]
    )
    assert created.credential is not None
    yield FeedClient(flask_app, created.credential)
    delete_feed(engine, name)


def test_metadata_lists_only_the_visible_columns(scoped):
    document = scoped.get("$metadata").get_data(as_text=True)
    assert 'Name="lastname"' in document and 'Name="geo"' in document
    assert 'Name="email"' not in document and 'Name="label"' not in document


def test_rows_counts_and_search_hold_only_the_scopes_geos(scoped):
    body = scoped.json("people?$count=true&$orderby=id")
    assert [row["id"] for row in body["value"]] == EMEA
    assert body["@odata.count"] == 3
    assert all("email" not in row for row in body["value"])
    assert scoped.get("people/$count").get_data(as_text=True) == "3"
    assert scoped.ids("people?$filter=contains(lastname,'mith') eq true&$orderby=id") == ["a04", "a05"]
    assert scoped.ids("people?$search=mith&$orderby=id") == ["a04", "a05"]
    assert scoped.json("big?$count=true&$top=1")["@odata.count"] == 5000
    assert scoped.ids("people?$filter=geo eq 'AMER'") == []


def test_a_key_outside_the_scope_is_not_found(scoped):
    assert scoped.get("people('a01')").status_code == 404
    assert scoped.json("people('a04')")["id"] == "a04"


@pytest.mark.parametrize(
    "path",
    [
        "people?$select=email",
        "people?$filter=email eq 'dee@example.eu'",
        "people?$orderby=email",
        "people('a04')/email",
    ],
)
def test_a_hidden_column_cannot_be_named(scoped, path):
    response = scoped.get(path)
    assert response.status_code in (400, 404)
    assert "email" in response.get_json()["error"]["message"]


def test_the_feed_role_reads_nothing_outside_its_scope_with_sql_of_its_own(scoped, odata_database_url):
    role = role_name_for(scoped.credential.feed)
    schema = scope_schema(scoped.credential.feed)
    with psycopg.connect(odata_database_url, autocommit=True) as conn:
        conn.execute(f'set role "{role}"')
        assert conn.execute(f'select count(*), min(geo), max(geo) from "{schema}".people').fetchone() == (
            3,
            "EMEA",
            "EMEA",
        )
        for statement in (
            "select * from public.people",
            "select * from public.people_src",
            "select count(*) from public.big",
            f'select email from "{schema}".people',
        ):
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedColumn)):
                conn.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"insert into \"{schema}\".people (id, geo) values ('x', 'EMEA')")


def test_a_hidden_column_the_view_lacks_is_refused(engine):
    from app.odata import FeedError

    name = f"s{uuid.uuid4().hex[:8]}"
    try:
        with pytest.raises(FeedError) as caught:
            create_feed(engine, name, ["people"], base_url="http://localhost", hide=["people.salary"])
        assert str(caught.value) == (
            f"feed {name}: hide names people.salary, which view people does not have: fix `hide` in orgfeed.toml "
            "and run `orgfeed feeds create` again"
        )
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from orgfeed.feeds where name = :n"), {"n": name}).scalar() == 0
    finally:
        delete_feed(engine, name)
