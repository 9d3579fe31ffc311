"""Auth against the real server: every kind of bad credential gets 401 and no data; the read role can only read.

tests/odata/test_auth.py checks the rules through Flask's test client; here the same promises are
checked through gunicorn (the Procfile's command) on every kind of URL of the feed, and the feed's
database role is tried directly for writes and for reads of the per-org schemas.
"""

from __future__ import annotations

import base64
import itertools

import psycopg
import pytest
import requests
from psycopg import sql
from sqlalchemy import text, update

from app.odata.feeds import reset_credentials, revoke_credentials, role_name_for
from app.warehouse.metadata import feed_credentials
from tests.support.sites import HIDDEN_MARK, ORG_MARK, SENTINEL_NOTE, feed_site, sentinel_rows

PATHS = [
    "",
    "$metadata",
    "feed_people",
    "feed_people?$top=3&$select=id,name",
    "feed_people('p00001')",
    "feed_people/$count",
    "feed_big?$filter=n gt 10&$orderby=n desc",
    "hidden_view",
    "$batch",
]
_clients = itertools.count(1)


@pytest.fixture(scope="module")
def site(server_url, migrated_template, tmp_path_factory):
    with feed_site(server_url, migrated_template, tmp_path_factory.mktemp("auth")) as site:
        yield site


def get(url: str, authorization: str | None) -> requests.Response:
    # Each request comes from its own address (gunicorn trusts one proxy), so the failure throttle never
    # slows these tests down; tests/odata/test_auth.py covers the throttle itself.
    n = next(_clients)
    headers = {"X-Forwarded-For": f"10.9.{n // 250 % 250}.{n % 250}"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return requests.get(url, headers=headers, timeout=30)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def assert_401_without_data(response: requests.Response) -> None:
    assert response.status_code == 401, (response.url, response.status_code, response.text[:300])
    assert response.headers["WWW-Authenticate"] == 'Basic realm="orgfeed"'
    assert response.headers["OData-Version"] == "4.0"
    body = response.json()
    assert list(body) == ["error"] and body["error"]["code"] == "Unauthorized"
    for marker in ("p00001", "b000011", HIDDEN_MARK, ORG_MARK, "Smith", "EntityType"):
        assert marker not in response.text


BAD_AUTHORIZATION = {
    "missing": None,
    "empty": "",
    "scheme_only": "Basic",
    "not_base64": "Basic !!!not-base64!!!",
    "no_colon": "Basic " + base64.b64encode(b"nocolon").decode(),
    "bearer": "Bearer abc.def.ghi",
    "not_utf8": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "huge": "Basic " + base64.b64encode(b"u:" + b"x" * 6000).decode(),
    "sql_in_username": basic("' or 1=1 --", "x"),
    "sql_in_password": basic("someone", "' or '1'='1"),
}


@pytest.mark.parametrize("kind", list(BAD_AUTHORIZATION))
def test_missing_and_malformed_credentials_get_401_on_every_url(site, kind):
    for path in PATHS:
        assert_401_without_data(get(site.root() + path, BAD_AUTHORIZATION[kind]))


def test_a_wrong_password_an_unknown_user_and_an_empty_password_get_401(site):
    user, password = site.feed.username, site.feed.password
    for authorization in (
        basic(user, password + "x"),
        basic(user, password[:-1]),
        basic(user, password.upper()),
        basic(user + "x", password),
        basic("", password),
        basic(user, ""),
        basic(user.upper(), password),
    ):
        for path in PATHS:
            assert_401_without_data(get(site.root() + path, authorization))


def test_another_feeds_credentials_get_401_both_ways(site):
    for path in PATHS:
        assert_401_without_data(get(site.root() + path, basic(site.other.username, site.other.password)))
        assert_401_without_data(get(site.root(site.other) + path, basic(site.feed.username, site.feed.password)))
    assert (
        get(site.root() + "feed_people?$top=1", basic(site.feed.username, site.feed.password)).json()["value"][0]["id"]
        == "p00001"
    )


def test_old_credentials_get_401_after_the_reset_grace_and_revoked_ones_at_once(site):
    old = site.other
    new = reset_credentials(site.engine, old.feed, base_url="http://localhost")
    for credential in (old, new):  # within the 10-minute grace both work
        assert (
            get(site.root(old) + "hidden_view?$top=1", basic(credential.username, credential.password)).status_code
            == 200
        )
    with site.engine.begin() as conn:
        conn.execute(
            update(feed_credentials)
            .where(feed_credentials.c.feed == old.feed, feed_credentials.c.expires_at.is_not(None))
            .values(expires_at=text("now() - interval '1 second'"))
        )
    for path in PATHS:
        assert_401_without_data(get(site.root(old) + path, basic(old.username, old.password)))
    assert get(site.root(old) + "hidden_view?$top=1", basic(new.username, new.password)).status_code == 200
    assert revoke_credentials(site.engine, old.feed) == 1
    for path in PATHS:
        assert_401_without_data(get(site.root(old) + path, basic(new.username, new.password)))


def test_a_feed_name_that_does_not_exist_gets_401_not_404(site):
    for feed in ("nosuchfeed", site.feed.feed + "x", site.feed.feed.upper(), "%27%3Bdrop", "%2e%2e"):
        assert_401_without_data(
            get(f"{site.url}/odata/v4/{feed}/feed_people", basic(site.feed.username, site.feed.password))
        )


ROLE_REFUSED = [
    "select * from amer.contact",
    "select count(*) from public.people_src",
    "select * from public.sentinel",
    "select * from public.hidden_view",
    "select * from orgfeed.feed_credentials",
    "select * from orgfeed.feeds",
    "insert into public.sentinel values (2, 'written by the feed role')",
    "update public.sentinel set note = 'x'",
    "delete from public.sentinel",
    "update public.feed_people set name = 'x'",
    "insert into amer.contact (sfid, lastname) values ('x', 'y')",
    "create table public.made_by_the_feed (id int)",
    "create schema made_by_the_feed",
    "truncate public.sentinel",
    "drop view public.feed_people",
    "alter view public.feed_people rename to renamed",
    "grant select on public.hidden_view to public",
    "create view public.peek as select * from public.sentinel",
]


@pytest.mark.parametrize("statement", ROLE_REFUSED)
def test_the_feeds_role_can_neither_write_nor_read_beyond_its_views(site, statement):
    role = role_name_for(site.feed.feed)
    with psycopg.connect(site.database_url) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        assert conn.execute("select count(*) from public.feed_people").fetchone() == (300,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
    assert sentinel_rows(site.database_url) == [(1, SENTINEL_NOTE)]


def test_the_feeds_role_cannot_log_in_or_create_anything(site):
    # (SET ROLE is checked against the session user, the web process's own database user, not the feed's role;
    # what keeps a request inside its role is that every value is a bound parameter: see test_hostile_odata.py.)
    with psycopg.connect(site.database_url) as conn:
        flags = conn.execute(
            "select rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls from pg_roles where rolname = %s",
            (role_name_for(site.feed.feed),),
        ).fetchone()
    assert flags == (False, False, False, False, False)
