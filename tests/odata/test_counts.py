"""Counts without scans: `$count` of a generated union view, unfiltered or filtered on geo, is the sum of live-row
counts kept by triggers; it equals count(*) in the same snapshot through loads, deletes, reloads and rebuilds."""

from __future__ import annotations

import base64
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text

from app.config import ColumnConfig, DatabaseSettings, OrgConfig, Settings, ViewConfig
from app.odata.app import create_app
from app.odata.catalog import api_name, read_entity_sets
from app.odata.compiler import Params
from app.odata.feeds import create_feed, delete_feed, role_name_for
from app.odata.query import conditions, count_statement, parse_query
from app.views.apply import apply_views
from app.views.generate import render_views
from app.warehouse.database import create_database_engine
from app.warehouse.load import copy_csv_into, create_shadow, swap_shadow, tombstone, upsert_csv
from app.warehouse.tables import ensure_org_schema, ensure_table
from app.warehouse.types import SourceField, column_for

FIELDS = [
    SourceField("Id", "id", 18),
    SourceField("SystemModstamp", "datetime"),
    SourceField("IsDeleted", "boolean"),
    SourceField("LastName", "string", 80),
]
COLUMNS = [column_for(field) for field in FIELDS]
VIEW = ViewConfig(name="people_count", object="Contact", columns=(ColumnConfig("LastName"),), indexed=("lastname",))
GEO_FILTERS = [
    None,
    "geo eq 'AMER'",
    "geo ne 'AMER'",
    "geo in ('EMEA', 'APAC')",
    "not (geo eq 'EMEA')",
    "startswith(geo,'AM') eq true",
    "geo eq null",
    "geo eq 'AMER' or geo eq 'EMEA'",
]


def org(name: str) -> OrgConfig:
    return OrgConfig(name=name, geo=name.upper(), auth="session", instance_url="https://x.example.com")


def settings_for(views, orgs=("amer", "emea")) -> Settings:
    return Settings(
        config_path=Path("/nonexistent/orgfeed.toml"),
        database=DatabaseSettings(url=None, data_dir=Path("/nonexistent")),
        orgs=tuple(org(name) for name in orgs),
        views=tuple(views),
    )


def csv_of(records) -> list[bytes]:
    """Records (sfid, deleted, lastname) as the loader's CSV, stamped now so they replace older versions."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
    lines = "".join(f"{sfid},{stamp},{str(deleted).lower()},{name}\n" for sfid, deleted, name in records)
    return [b"Id,SystemModstamp,IsDeleted,LastName\n" + lines.encode()]


def sfid(geo: str, number: int) -> str:
    return f"003{geo[0]}{number:014d}"


def set_up(engine, rows: dict[str, int], views=(VIEW,)) -> None:
    """Contact tables in each org of `rows` (every 7th row deleted), then the views applied."""
    with engine.begin() as conn:
        for schema, count in rows.items():
            ensure_org_schema(conn, schema, None, schema)
            ensure_table(conn, schema, "Contact", COLUMNS)
            records = [(sfid(schema.upper(), n), n % 7 == 0, f"Name{n % 50}") for n in range(count)]
            upsert_csv(conn, schema, "Contact", csv_of(records))
    apply(engine, settings_for(views, tuple(rows)))


def apply(engine, settings: Settings) -> None:
    with engine.connect() as conn:
        files = render_views(conn, settings)
    apply_views(engine, files, settings)


def counted(pg: psycopg.Connection, view: str, odata_filter: str | None) -> tuple[int, int, bool]:
    """(the feed's count statement, count(*), whether the live-row counts vouched), in one snapshot."""
    (entity_set,) = read_entity_sets(pg, [view])
    query = parse_query(f"$filter={odata_filter}" if odata_filter else "")
    statement = count_statement(query, entity_set)
    params = Params()
    where = " and ".join(conditions(query, entity_set, params)) or "true"
    with pg.transaction():
        pg.execute("set transaction isolation level repeatable read")
        fast = pg.execute(statement.sql, statement.params).fetchone()[0]
        scan = pg.execute(f"select count(*) from {view} where {where}", params.values).fetchone()[0]
        vouched = pg.execute(
            "select count(*) > 0 and count(*) = count(live) from orgfeed.view_live_rows where view = to_regclass(%s)",
            (view,),
        ).fetchone()[0]
    return fast, scan, vouched


def executed_plan(pg: psycopg.Connection, view: str, odata_filter: str | None) -> list[str]:
    """The lines of the feed's count statement's plan that ran (EXPLAIN ANALYZE)."""
    (entity_set,) = read_entity_sets(pg, [view])
    statement = count_statement(parse_query(f"$filter={odata_filter}" if odata_filter else ""), entity_set)
    plan = pg.execute("explain (analyze, costs off, timing off) " + statement.sql, statement.params).fetchall()
    return [line for (line,) in plan if "never executed" not in line]


def executed_scans(pg: psycopg.Connection, view: str, odata_filter: str | None) -> list[str]:
    """Plan lines that read a Contact table and actually ran, for the feed's count statement."""
    return [line for line in executed_plan(pg, view, odata_filter) if " on contact" in line]


@pytest.fixture
def engine(database_url):
    """The test's own migrated database (tests/odata's `engine` is the session's shared one)."""
    engine = create_database_engine(database_url, pool_size=5)
    yield engine
    engine.dispose()


@pytest.fixture
def pg(database_url):
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.mark.parametrize("odata_filter", GEO_FILTERS)
def test_unfiltered_and_geo_only_counts_are_exact_and_read_no_table(engine, pg, odata_filter):
    set_up(engine, {"amer": 300, "emea": 200})
    fast, scan, vouched = counted(pg, VIEW.name, odata_filter)
    assert (fast, vouched) == (scan, True)
    assert executed_scans(pg, VIEW.name, odata_filter) == []


def test_the_expected_numbers_of_live_rows(engine, pg):
    set_up(engine, {"amer": 300, "emea": 200})
    live = {"amer": 300 - len(range(0, 300, 7)), "emea": 200 - len(range(0, 200, 7))}
    assert counted(pg, VIEW.name, None)[0] == live["amer"] + live["emea"]
    assert counted(pg, VIEW.name, "geo eq 'EMEA'")[0] == live["emea"]
    assert counted(pg, VIEW.name, "geo eq null")[0] == 0


def test_a_filter_on_an_indexed_column_counts_from_its_index(engine, pg):
    set_up(engine, {"amer": 3000, "emea": 2000})
    pg.execute("analyze amer.contact; analyze emea.contact")
    fast, scan, _ = counted(pg, VIEW.name, "lastname eq 'Name7'")
    assert (
        fast
        == scan
        == len([n for n in range(3000) if n % 50 == 7 and n % 7])
        + len([n for n in range(2000) if n % 50 == 7 and n % 7])
    )
    plan = executed_plan(pg, VIEW.name, "lastname eq 'Name7'")
    assert not [line for line in plan if "Seq Scan" in line], plan
    assert len([line for line in plan if "Index" in line and "orgfeed_contact_lastname_idx" in line]) == 2, plan


def test_a_view_with_a_where_is_counted_by_scanning(engine, pg):
    where_view = ViewConfig(
        name="some_people", object="Contact", columns=(ColumnConfig("LastName"),), where="lastname <> 'Name1'"
    )
    set_up(engine, {"amer": 300, "emea": 200}, views=(VIEW, where_view))
    fast, scan, vouched = counted(pg, "some_people", None)
    assert (fast, vouched) == (scan, False)
    assert executed_scans(pg, "some_people", None) != []


def test_counts_follow_upserts_tombstones_hard_deletes_reloads_and_truncates(engine, pg):
    set_up(engine, {"amer": 300, "emea": 200})

    def check() -> None:
        for odata_filter in (None, "geo eq 'AMER'"):
            fast, scan, vouched = counted(pg, VIEW.name, odata_filter)
            assert (fast, vouched) == (scan, True), odata_filter

    with engine.begin() as conn:  # new rows, revived rows, rows deleted by an upsert
        upsert_csv(conn, "amer", "Contact", csv_of([(sfid("A", n), n % 3 == 0, "Again") for n in range(280, 340)]))
    check()
    with engine.begin() as conn:
        upsert_csv(conn, "amer", "Contact", csv_of([(sfid("A", n), True, "Gone") for n in range(20)]), hard_delete=True)
    check()
    with engine.begin() as conn:
        tombstone(conn, "emea", "Contact", [sfid("E", n) for n in range(0, 200, 3)], hard=False)
        tombstone(conn, "amer", "Contact", [sfid("A", n) for n in range(20, 60)], hard=True)
    check()
    with engine.begin() as conn:  # a full reload: the shadow is swapped in and counted in the same transaction
        shadow = create_shadow(conn, "emea", "Contact", COLUMNS)
        copy_csv_into(conn, "emea", shadow, csv_of([(sfid("E", n), n % 5 == 0, "Reloaded") for n in range(150)]))
        swap_shadow(conn, "emea", "Contact")
    check()
    with engine.begin() as conn:
        conn.execute(text("update emea.contact set isdeleted = not isdeleted where lastname = 'Reloaded'"))
        conn.execute(text("truncate amer.contact"))
        conn.execute(text("insert into amer.contact (sfid, systemmodstamp) values ('003A1', now()), ('003A2', now())"))
    check()
    assert counted(pg, VIEW.name, "geo eq 'AMER'")[0] == 2


def test_triggers_switched_off_and_on_again_are_noticed_until_the_views_are_applied(engine, pg):
    set_up(engine, {"amer": 300, "emea": 200})
    pg.execute("alter table amer.contact disable trigger orgfeed_live_rows_insert")
    pg.execute("insert into amer.contact (sfid, systemmodstamp) values ('003Aunseen', now())")
    pg.execute("alter table amer.contact enable always trigger orgfeed_live_rows_insert")
    fast, scan, vouched = counted(pg, VIEW.name, None)
    assert (fast, vouched) == (scan, False)
    apply(engine, settings_for([VIEW]))
    fast, scan, vouched = counted(pg, VIEW.name, None)
    assert (fast, vouched) == (scan, True)


def test_a_view_redefined_by_hand_is_counted_by_scanning(engine, pg):
    set_up(engine, {"amer": 300, "emea": 200})
    pg.execute(
        "create or replace view people_count as select * from ("
        + pg.execute("select pg_get_viewdef('people_count'::regclass)").fetchone()[0].rstrip(";")
        + ") as v where lastname <> 'Name1'"
    )
    fast, scan, vouched = counted(pg, VIEW.name, None)
    assert (fast, vouched) == (scan, False)


def test_a_heroku_connect_table_counts_only_rows_with_an_sfid(engine, pg):
    set_up(engine, {"amer": 30})
    pg.execute("""
        create schema salesforce_apac;
        create table salesforce_apac.contact (id serial primary key, sfid varchar(18), lastname varchar(80),
            isdeleted boolean, systemmodstamp timestamp, _hc_lastop varchar(32), _hc_err text);
        insert into salesforce_apac.contact (sfid, lastname, isdeleted) values
            ('003P1', 'Tan', false), ('003P2', 'Lee', null), (null, 'Pending', false), ('003P3', 'Gone', true)
    """)
    apac = OrgConfig(name="salesforce_apac", geo="APAC", managed_by="heroku_connect")
    settings = Settings(
        config_path=Path("/nonexistent/orgfeed.toml"),
        database=DatabaseSettings(url=None, data_dir=Path("/nonexistent")),
        orgs=(org("amer"), apac),
        views=(VIEW,),
    )
    apply(engine, settings)
    pg.execute("insert into salesforce_apac.contact (sfid, lastname) values (null, 'Pending too'), ('003P4', 'New')")
    pg.execute("update salesforce_apac.contact set sfid = '003P5' where lastname = 'Pending'")
    fast, scan, vouched = counted(pg, VIEW.name, "geo eq 'APAC'")
    assert (fast, scan, vouched) == (4, 4, True)


def test_counts_are_exact_while_loads_deletes_reloads_and_view_rebuilds_run(engine, pg, database_url):
    set_up(engine, {"amer": 2000, "emea": 2000})
    settings = settings_for([VIEW])
    stop = threading.Event()
    writers = create_database_engine(database_url, pool_size=4)

    def loads(schema: str, seed: int) -> None:
        chooser = random.Random(seed)
        while not stop.is_set():
            start = chooser.randrange(0, 2000)
            records = [(sfid(schema.upper(), n), chooser.random() < 0.3, "Busy") for n in range(start, start + 200)]
            with writers.begin() as conn:
                upsert_csv(conn, schema, "Contact", csv_of(records), hard_delete=chooser.random() < 0.3)
                tombstone(
                    conn,
                    schema,
                    "Contact",
                    [sfid(schema.upper(), chooser.randrange(2400)) for _ in range(20)],
                    hard=False,
                )

    def reloads() -> None:
        while not stop.is_set():
            with writers.begin() as conn:
                shadow = create_shadow(conn, "emea", "Contact", COLUMNS)
                size = random.randrange(1500, 2500)
                copy_csv_into(conn, "emea", shadow, csv_of([(sfid("E", n), n % 4 == 0, "Fresh") for n in range(size)]))
                swap_shadow(conn, "emea", "Contact")

    def rebuilds() -> None:
        while not stop.is_set():
            apply(writers, settings)
            time.sleep(0.05)

    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(loads, "amer", 1), pool.submit(reloads), pool.submit(rebuilds)]
        results = []
        try:
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline and not any(future.done() for future in futures):
                for odata_filter in (None, "geo eq 'EMEA'"):
                    try:
                        results.append((odata_filter, *counted(pg, VIEW.name, odata_filter)))
                    except psycopg.errors.UndefinedTable:
                        continue  # the view was dropped and created again by a reload after read_entity_sets ran
        finally:
            stop.set()
        for future in futures:
            future.result()  # a writer's exception fails the test here
    writers.dispose()
    wrong = [result for result in results if result[1] != result[2]]
    assert wrong == []
    assert len(results) >= 20
    assert sum(1 for result in results if result[3]) >= len(results) // 2  # the counts answered, not count(*)


def test_the_feed_answers_count_from_the_live_rows_through_its_read_role(engine, pg, database_url):
    set_up(engine, {"amer": 300, "emea": 200})
    name = f"c{uuid.uuid4().hex[:8]}"
    credential = create_feed(engine, name, [VIEW.name], base_url="http://localhost").credential
    try:
        settings = Settings(
            config_path=Path("orgfeed.toml"), database=DatabaseSettings(url=database_url, data_dir=Path("/nonexistent"))
        )
        client = create_app(settings, engine=engine).test_client()
        token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
        root = f"/odata/v4/{name}/{api_name(VIEW.name)}"
        page = client.get(f"{root}?$count=true&$top=1", headers=headers, buffered=True)
        amer = client.get(f"{root}/$count?$filter=geo eq 'AMER'", headers=headers, buffered=True)
        live = {"amer": 300 - len(range(0, 300, 7)), "emea": 200 - len(range(0, 200, 7))}
        assert (page.status_code, page.get_json()["@odata.count"]) == (200, live["amer"] + live["emea"])
        assert (amer.status_code, amer.get_data(as_text=True)) == (200, str(live["amer"]))
        with pg.transaction():
            pg.execute(sql.SQL("set local role {}").format(sql.Identifier(role_name_for(name))))
            vouched = pg.execute(
                "select count(*) = 2 and count(live) = 2 from orgfeed.view_live_rows where view = %s::regclass",
                (VIEW.name,),
            ).fetchone()[0]
            others = pg.execute("select count(*) from orgfeed.view_live_rows where view <> %s::regclass", (VIEW.name,))
            assert (vouched, others.fetchone()[0]) == (True, 0)
    finally:
        delete_feed(engine, name)


def test_a_reload_re_registers_the_views_it_recreated_for_the_cheap_check(engine, pg):
    set_up(engine, {"amer": 300, "emea": 200})
    current = (
        "select v.rule_version = (select r.xmin::text || ',' || r.ctid::text from pg_rewrite r "
        "where r.ev_class = 'people_count'::regclass and r.rulename = '_RETURN') "
        "from orgfeed.view_counts v where v.view_name = 'people_count'"
    )
    with engine.begin() as conn:
        shadow = create_shadow(conn, "emea", "Contact", COLUMNS)
        copy_csv_into(conn, "emea", shadow, csv_of([(sfid("E", n), False, "Reloaded") for n in range(10)]))
        swap_shadow(conn, "emea", "Contact")
    assert pg.execute(current).fetchone()[0] is True
    assert counted(pg, VIEW.name, "geo eq 'EMEA'")[:2] == (10, 10)
