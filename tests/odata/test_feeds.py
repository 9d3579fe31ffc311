"""Feed management through the CLI, and the database role that makes a feed read-only in the database itself."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from app.cli import cli
from app.odata.feeds import create_feed, delete_feed, role_name_for
from app.warehouse.database import create_database_engine
from tests.support.feeds import FeedClient


@pytest.fixture
def run(odata_database_url, tmp_path):
    """Runs `orgfeed ...` in-process against the test database with a small orgfeed.toml."""
    config = tmp_path / "orgfeed.toml"
    config.write_text(
        '[[views]]\nname = "people"\nobject = "Employee"\n\n[[feeds]]\nname = "configured"\nviews = ["people"]\n'
    )
    names: list[str] = []

    def invoke(*args: str):
        return CliRunner().invoke(
            cli,
            list(args),
            catch_exceptions=False,
            env={"DATABASE_URL": odata_database_url, "ODATA_DATABASE_URL": None, "ORGFEED_CONFIG": str(config)},
        )

    invoke.config = config
    invoke.names = names
    yield invoke
    engine = create_database_engine(odata_database_url, pool_size=1)
    for name in names:
        delete_feed(engine, name)
    engine.dispose()


def new_name(run) -> str:
    name = f"cli{uuid.uuid4().hex[:8]}"
    run.names.append(name)
    return name


def test_feeds_create_prints_credentials_and_the_role(run, flask_app):
    name = new_name(run)
    result = run("feeds", "create", name, "--views", "people,big,later_view", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["feed"] == name and created["views"] == ["people", "big", "later_view"]
    assert created["missing_views"] == ["later_view"]
    assert created["role"] == f"orgfeed_feed_{name}" and created["role_problem"] is None
    assert created["url"] == f"http://localhost:8000/odata/v4/{name}/"
    assert created["user"].startswith(name + "_") and len(created["password"]) == 32
    client = FeedClient(flask_app, _credential(name, created["user"], created["password"]))
    assert client.json("people?$top=1")["value"][0]["id"] == "a01"

    text = run("feeds", "create", name, "--views", "people")  # again: updates views and grants, keeps credentials
    assert text.exit_code == 0
    assert "credentials unchanged" in text.stdout
    assert client.get("big").status_code == 404
    assert client.get("people").status_code == 200


def test_feeds_create_takes_views_from_orgfeed_toml(run):
    name = new_name(run)
    run.config.write_text(run.config.read_text().replace('"configured"', f'"{name}"'))
    result = run("feeds", "create", name, "--json")
    assert (result.exit_code, json.loads(result.stdout)["views"]) == (0, ["people"])
    missing = run("feeds", "create", "notinconfig")
    assert missing.exit_code == 1
    assert "notinconfig" in missing.stderr and "--views" in missing.stderr


def test_feeds_list_shows_the_protection(run):
    name = new_name(run)
    run("feeds", "create", name, "--views", "people")
    listed = {feed["feed"]: feed for feed in json.loads(run("feeds", "list", "--json").stdout)}
    assert listed[name] == {
        "feed": name,
        "views": ["people"],
        "role": f"orgfeed_feed_{name}",
        "protection": f"read role orgfeed_feed_{name}",
        "active_credentials": 1,
        "writable": False,
        "url": f"http://localhost:8000/odata/v4/{name}/",
    }
    plain = run("feeds", "list").stdout
    assert f"{name}\thttp://localhost:8000/odata/v4/{name}/\tviews: people\tprotection: read role" in plain


def test_credentials_show_reset_revoke(run, flask_app):
    name = new_name(run)
    created = json.loads(run("feeds", "create", name, "--views", "people", "--json").stdout)
    shown = json.loads(run("credentials", "show", name, "--json").stdout)
    assert shown == {
        "feed": name,
        "user": created["user"],
        "password": None,
        "url": f"http://localhost:8000/odata/v4/{name}/",
    }
    reset = json.loads(run("credentials", "reset", name, "--json", "--base-url", "https://x.example.com").stdout)
    assert reset["user"] == created["user"] and reset["password"] != created["password"]
    assert reset["url"] == f"https://x.example.com/odata/v4/{name}/"
    for password in (created["password"], reset["password"]):  # both work during the grace period
        assert FeedClient(flask_app, _credential(name, created["user"], password)).get("people").status_code == 200
    revoked = run("credentials", "revoke", name)
    assert (revoked.exit_code, revoked.stdout) == (
        0,
        (f"feed {name}: revoked 2 credential(s); `orgfeed credentials reset {name}` issues a new one\n"),
    )
    assert FeedClient(flask_app, _credential(name, created["user"], reset["password"])).get("people").status_code == 401
    assert run("credentials", "show", name).exit_code == 1


def test_credentials_of_an_unknown_feed_exit_1_with_a_clear_line(run):
    result = run("credentials", "show", "nosuchfeed")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: no feed 'nosuchfeed': create it with `orgfeed feeds create nosuchfeed --views A,B` "
        "(see `orgfeed feeds list`)\n"
    )


def test_invalid_feed_name_is_refused(run):
    result = run("feeds", "create", "Bad Name!", "--views", "people")
    assert result.exit_code == 1 and "feed name 'Bad Name!'" in result.stderr


def _credential(feed, user, password):
    from app.odata.feeds import Credential

    return Credential(feed, user, password, "")


# -- The read role ----------------------------------------------------------------------------------------------


def test_a_write_through_the_feeds_role_fails_in_the_database(odata_database_url, feed):
    role = role_name_for(feed.feed)
    with psycopg.connect(odata_database_url) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        assert conn.execute("select count(*) from people").fetchone() == (8,)
        for statement in (
            "insert into people_src (id, geo) values ('zz', 'X')",
            "update people set lastname = 'x'",
            "delete from people",
            "select * from people_src",
            "select * from orgfeed.feed_credentials",
            "create table public.sneaky (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
            conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))


def test_a_request_cannot_write_even_without_a_role(engine, odata_database_url):
    import time

    from app.odata.session import ReadSession

    session = ReadSession(engine, None, started=time.monotonic())
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), session.cursor() as cursor:
            cursor.execute("insert into people_src (id, geo) values ('zz', 'X')")
    finally:
        session.close()


def test_without_create_role_privilege_the_feed_falls_back_to_read_only_transactions(
    odata_database_url, server_url, flask_app
):
    user = f"limited_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(odata_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login password 'pw'").format(sql.Identifier(user)))
        conn.execute(
            sql.SQL(
                "grant usage on schema orgfeed to {0}; grant select, insert, update, delete on all tables "
                "in schema orgfeed to {0}; grant usage on all sequences in schema orgfeed to {0}; "
                "grant select on public.people to {0}"
            ).format(sql.Identifier(user))
        )
    parts = urlsplit(odata_database_url)
    limited_url = urlunsplit(
        parts._replace(netloc=f"{user}:pw@{parts.hostname}" + (f":{parts.port}" if parts.port else ""))
    )
    engine = create_database_engine(limited_url, pool_size=1)
    name = f"ro{uuid.uuid4().hex[:8]}"
    try:
        created = create_feed(engine, name, ["people"], base_url="http://localhost")
        assert created.role_name is None
        assert created.role_problem.startswith("the database user may not create or grant roles (permission denied")
        client = FeedClient(flask_app, created.credential)
        assert client.json("people?$select=id&$top=2")["value"] == [{"id": "a01"}, {"id": "a02"}]
    finally:
        admin = create_database_engine(odata_database_url, pool_size=1)
        delete_feed(admin, name)
        admin.dispose()
        engine.dispose()
        with psycopg.connect(odata_database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop owned by {0}; drop role {0}").format(sql.Identifier(user)))


def test_refresh_grants_restores_select_after_a_view_is_recreated(odata_database_url, engine, feed_factory, flask_app):
    from app.odata.feeds import refresh_grants

    with psycopg.connect(odata_database_url, autocommit=True) as conn:
        conn.execute("create materialized view people_snapshot as select id, geo, lastname from people_src")
    credential = feed_factory(["people_snapshot"])
    client = FeedClient(flask_app, credential)
    assert len(client.json("people_snapshot")["value"]) == 8
    with psycopg.connect(odata_database_url, autocommit=True) as conn:
        conn.execute(
            "drop materialized view people_snapshot; "
            "create materialized view people_snapshot as select id, geo, lastname from people_src"
        )
    lost = client.get("people_snapshot")
    assert (lost.status_code, lost.get_json()["error"]["code"]) == (503, "FeedMisconfigured")
    assert credential.feed in refresh_grants(engine)
    assert len(client.json("people_snapshot")["value"]) == 8
