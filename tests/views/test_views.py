"""The view generator on real tables: rows, geos, nulls, plans, golden files, collisions, Heroku Connect schemas."""

from pathlib import Path

import pytest
from sqlalchemy import text

from app.config import ColumnConfig, DatabaseSettings, JoinConfig, OrgConfig, Settings, ViewConfig
from app.views import ViewError
from app.views.apply import apply_views
from app.views.generate import render_views, stale_files
from app.views.resolve import common_type
from app.warehouse.tables import ensure_table
from app.warehouse.types import Column

ROOT = Path(__file__).resolve().parents[2]


def org(name: str, **extra) -> OrgConfig:
    return OrgConfig(name=name, geo=name.upper(), auth="session", instance_url="https://x.example.com", **extra)


def settings_for(orgs, views, tmp_path=None) -> Settings:
    return Settings(
        config_path=(tmp_path or Path("/nonexistent")) / "orgfeed.toml",
        database=DatabaseSettings(url=None, data_dir=Path("/nonexistent")),
        orgs=tuple(orgs),
        views=tuple(views),
    )


CONTACT = [
    Column("accountid", "varchar(18)", "AccountId"),
    Column("lastname", "varchar(80)", "LastName"),
    Column("email", "varchar(80)", "Email"),
]
ACCOUNT = [Column("name", "varchar(255)", "Name")]


def make_org_tables(conn, schema: str, contacts: int, *, prefix: str, deleted_every: int = 0, extra=()) -> None:
    """The loader's tables for Contact and Account in `schema`, filled with generated rows."""
    conn.execute(text(f"create schema if not exists {schema}"))
    ensure_table(conn, schema, "Account", ACCOUNT)
    ensure_table(conn, schema, "Contact", CONTACT + list(extra))
    conn.execute(
        text(f"""
        insert into {schema}.account (sfid, systemmodstamp, name)
        select '001{prefix}' || lpad(g::text, 12, '0'), now(), 'Account ' || g from generate_series(1, 100) g""")
    )
    conn.execute(
        text(f"""
        insert into {schema}.contact (sfid, systemmodstamp, isdeleted, accountid, lastname, email)
        select '003{prefix}' || lpad(g::text, 12, '0'), now(),
               {f"g % {deleted_every} = 0" if deleted_every else "false"},
               '001{prefix}' || lpad((g % 100 + 1)::text, 12, '0'), 'Name' || (g % 500), 'c' || g || '@example.com'
        from generate_series(1, {contacts}) g""")
    )
    conn.execute(text(f"analyze {schema}.account; analyze {schema}.contact"))


CONTACT_VIEW = ViewConfig(
    name="contacts",
    object="Contact",
    joins=(JoinConfig(lookup="AccountId", object="Account"),),
    columns=(ColumnConfig("Account.Name", "account"), ColumnConfig("LastName"), ColumnConfig("Email")),
    indexed=("lastname",),
)


def apply(engine, settings) -> list[str]:
    with engine.connect() as conn:
        files = render_views(conn, settings)
    return apply_views(engine, files, settings)


def test_union_holds_exactly_the_live_rows_of_each_org_with_its_geo(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 300, prefix="A", deleted_every=10)
        make_org_tables(conn, "emea", 200, prefix="E")
    settings = settings_for([org("amer"), org("emea")], [CONTACT_VIEW])
    assert apply(engine, settings) == ["contacts"]
    with engine.connect() as conn:
        counts = dict(conn.execute(text("select geo, count(*) from contacts group by geo")).all())
        row = conn.execute(
            text("select id, geo, account, lastname, email from contacts where id = '003A000000000001'")
        ).one()
        deleted = conn.execute(text("select count(*) from contacts where id = '003A000000000010'")).scalar()
    assert counts == {"AMER": 270, "EMEA": 200}
    assert tuple(row) == ("003A000000000001", "AMER", "Account 2", "Name1", "c1@example.com")
    assert deleted == 0


def test_three_orgs_and_a_column_one_org_lacks(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 50, prefix="A", extra=[Column("badge__c", "varchar(20)", "Badge__c")])
        make_org_tables(conn, "emea", 40, prefix="E")
        make_org_tables(conn, "apac", 30, prefix="P")
        conn.execute(text("update amer.contact set badge__c = 'B-' || id"))
    view = CONTACT_VIEW.model_copy(update={"columns": (*CONTACT_VIEW.columns, ColumnConfig("Badge__c"))})
    apply(engine, settings_for([org("amer"), org("emea"), org("apac")], [view]))
    with engine.connect() as conn:
        rows = conn.execute(text("select geo, count(*), count(badge__c) from contacts group by geo order by geo")).all()
    assert [tuple(row) for row in rows] == [("AMER", 50, 50), ("APAC", 30, 0), ("EMEA", 40, 0)]


def plan(engine, sql: str) -> str:
    with engine.connect() as conn:
        return "\n".join(conn.execute(text(f"explain {sql}")).scalars())


def test_order_by_id_is_a_merge_of_index_scans_without_a_sort_or_dedupe(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 20000, prefix="A")
        make_org_tables(conn, "emea", 20000, prefix="E")
    apply(engine, settings_for([org("amer"), org("emea")], [CONTACT_VIEW]))
    page = plan(engine, "select * from contacts order by id limit 2000")
    assert "Merge Append" in page
    assert "Sort  " not in page and "Sort (" not in page and "Unique" not in page and "HashAggregate" not in page
    assert page.count("Index Scan using hcu_idx_contact_sfid") == 2
    keyset = plan(engine, "select * from contacts where id > '003E000000005000' order by id limit 26")
    assert "Merge Append" in keyset and keyset.count("Index Cond: ((sfid)::text > '003E000000005000'::text)") == 2


def test_an_equality_filter_on_a_declared_column_uses_an_index_in_every_branch(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 20000, prefix="A")
        make_org_tables(conn, "emea", 20000, prefix="E")
    apply(engine, settings_for([org("amer"), org("emea")], [CONTACT_VIEW]))
    found = plan(engine, "select * from contacts where lastname = 'Name7'")
    assert found.count("orgfeed_contact_lastname_idx") == 2 and "Seq Scan on contact" not in found
    by_key = plan(engine, "select * from contacts where id = '003A000000000042'")
    assert by_key.count("hcu_idx_contact_sfid") >= 2 and "Seq Scan on contact" not in by_key


def test_colliding_ids_are_refused_naming_them_and_nothing_is_applied(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "prod", 20, prefix="S")
        make_org_tables(conn, "sandbox", 20, prefix="S")  # a sandbox copy: the same ids
    settings = settings_for([org("prod"), org("sandbox")], [CONTACT_VIEW])
    with pytest.raises(ViewError) as caught:
        apply(engine, settings)
    message = str(caught.value)
    assert message.startswith(
        "view contacts: ids collide across orgs (a sandbox copied from production?): "
        "003S000000000001 (in PROD, SANDBOX); 003S000000000002 (in PROD, SANDBOX)"
    )
    assert message.endswith(
        'Nothing was applied: set id_strategy = "geo_prefixed" on the view so each id carries its geo.'
    )
    with engine.connect() as conn:
        assert conn.execute(text("select to_regclass('public.contacts')")).scalar() is None


def test_geo_prefixed_ids_are_unique_and_still_ordered_by_index(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "prod", 20000, prefix="S")
        make_org_tables(conn, "sandbox", 20000, prefix="S")
    view = CONTACT_VIEW.model_copy(update={"id_strategy": "geo_prefixed"})
    apply(engine, settings_for([org("prod"), org("sandbox")], [view]))
    with engine.connect() as conn:
        first = conn.execute(text("select id from contacts order by id limit 2")).scalars().all()
        distinct = conn.execute(text("select count(distinct id) = count(*) from contacts")).scalar()
    assert first == ["PROD-003S000000000001", "PROD-003S000000000002"] and distinct
    page = plan(engine, "select * from contacts order by id limit 2000")
    assert "Merge Append" in page and "Sort  " not in page


def test_apply_drops_and_recreates_a_view_whose_columns_changed(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 10, prefix="A")
    settings = settings_for([org("amer")], [CONTACT_VIEW])
    apply(engine, settings)
    # columns dropped, which `create or replace view` cannot do
    narrower = CONTACT_VIEW.model_copy(update={"columns": (ColumnConfig("Email"),), "indexed": ()})
    apply(engine, settings_for([org("amer")], [narrower]))
    with engine.connect() as conn:
        columns = (
            conn.execute(
                text(
                    "select column_name from information_schema.columns where table_name = 'contacts' "
                    "order by ordinal_position"
                )
            )
            .scalars()
            .all()
        )
    assert columns == ["id", "geo", "email"]


def test_a_heroku_connect_schema_gets_views_from_its_own_columns(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 30, prefix="A")
        # Heroku Connect's layout: plain varchar sfid (nullable), timestamp without time zone, its own types
        conn.execute(
            text("""
            create schema salesforce_apac;
            create table salesforce_apac.account (id serial primary key, sfid varchar(18), name varchar(255),
                isdeleted boolean, systemmodstamp timestamp, _hc_lastop varchar(32), _hc_err text);
            create unique index hcu_idx_account_sfid on salesforce_apac.account (sfid);
            create table salesforce_apac.contact (id serial primary key, sfid varchar(18), accountid varchar(18),
                lastname varchar(80), email varchar(100), isdeleted boolean, systemmodstamp timestamp,
                _hc_lastop varchar(32), _hc_err text);
            create unique index hcu_idx_contact_sfid on salesforce_apac.contact (sfid);
            insert into salesforce_apac.account (sfid, name, isdeleted) values ('001P00000000001', 'Apac Co', false);
            insert into salesforce_apac.contact (sfid, accountid, lastname, email, isdeleted) values
                ('003P00000000001', '001P00000000001', 'Tan', 'tan@example.com', false),
                ('003P00000000002', '001P00000000001', 'Lee', 'lee@example.com', null),
                (null, '001P00000000001', 'Pending', 'pending@example.com', false),
                ('003P00000000003', null, 'Gone', 'gone@example.com', true)
        """)
        )
    apac = OrgConfig(name="salesforce_apac", geo="APAC", managed_by="heroku_connect")
    apply(engine, settings_for([org("amer"), apac], [CONTACT_VIEW]))
    with engine.connect() as conn:
        rows = conn.execute(
            text("select id, account, lastname, email from contacts where geo = 'APAC' order by id")
        ).all()
        email_type = conn.execute(
            text(
                "select data_type, character_maximum_length from information_schema.columns "
                "where table_name = 'contacts' and column_name = 'email'"
            )
        ).one()
    assert [tuple(row) for row in rows] == [
        ("003P00000000001", "Apac Co", "Tan", "tan@example.com"),
        ("003P00000000002", "Apac Co", "Lee", "lee@example.com"),
    ]
    assert tuple(email_type) == ("character varying", 100)


def test_a_missing_table_is_a_clear_error(engine):
    settings = settings_for([org("amer")], [CONTACT_VIEW])
    with engine.connect() as conn, pytest.raises(ViewError) as caught:
        render_views(conn, settings)
    assert str(caught.value) == (
        "view contacts: table amer.contact does not exist: run `orgfeed sync` first, "
        "or leave that org out of the view's `orgs`"
    )


@pytest.mark.parametrize(
    ("types", "common"),
    [
        (["character varying(80)", "character varying(120)"], "character varying(120)"),
        (["character varying(80)", "text"], "text"),
        (["numeric(18,2)", "numeric(10,4)"], "numeric(20,4)"),
        (["integer", "numeric(18,2)"], "numeric(18,2)"),
        (["integer", "bigint"], "bigint"),
        (["timestamp with time zone", "timestamp without time zone"], "timestamp with time zone"),
        (["boolean", "character varying(5)"], "text"),
        (["date"], "date"),
    ],
)
def test_common_type_reconciles_differing_column_types(types, common):
    assert common_type(types) == common


def test_render_is_deterministic_and_stale_files_are_named(engine, tmp_path):
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 5, prefix="A")
    settings = settings_for([org("amer")], [CONTACT_VIEW], tmp_path)
    with engine.connect() as conn:
        first, second = render_views(conn, settings), render_views(conn, settings)
    assert first == second
    directory = tmp_path / "sql" / "views"
    directory.mkdir(parents=True)
    (directory / "contacts.sql").write_text(first["contacts.sql"].replace("lastname", "surname", 1))
    (directory / "old_view.sql").write_text("-- a view no longer configured\n")
    assert stale_files(directory, first) == ["contacts.sql", "old_view.sql"]


def test_a_materialized_view_is_refreshed_concurrently_after_each_sync(engine):
    from app.views.lifecycle import update_views_after_sync

    with engine.begin() as conn:
        make_org_tables(conn, "amer", 20, prefix="A")
    view = CONTACT_VIEW.model_copy(update={"materialized": True})
    settings = settings_for([org("amer")], [view])
    apply(engine, settings)
    with engine.begin() as conn:
        conn.execute(text("update amer.contact set lastname = 'Changed' where sfid = '003A000000000001'"))
        assert conn.execute(text("select lastname from contacts where id = '003A000000000001'")).scalar() == "Name1"
    outcome = update_views_after_sync(engine, settings)
    assert outcome.refreshed == ("contacts",)
    with engine.connect() as conn:
        assert conn.execute(text("select lastname from contacts where id = '003A000000000001'")).scalar() == "Changed"
        kind = conn.execute(text("select count(*) from pg_matviews where matviewname = 'contacts'")).scalar()
    assert kind == 1


def test_a_rebuilt_view_keeps_its_select_grants(engine):
    import uuid

    role = f"orgfeed_test_reader_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 10, prefix="A")
        conn.execute(text(f"create role {role} nologin"))
    try:
        view = CONTACT_VIEW.model_copy(update={"materialized": True})  # materialized: every apply drops and creates it
        settings = settings_for([org("amer")], [view])
        apply(engine, settings)
        with engine.begin() as conn:
            conn.execute(text(f"grant select on contacts to {role}"))
        apply(engine, settings)
        with engine.connect() as conn:
            assert conn.execute(text(f"select has_table_privilege('{role}', 'public.contacts', 'select')")).scalar()
    finally:
        with engine.begin() as conn:
            conn.execute(text("drop materialized view if exists contacts"))
            conn.execute(text(f"drop role {role}"))


def test_an_indexed_column_orders_the_first_page_without_a_sort(engine):
    with engine.begin() as conn:
        make_org_tables(conn, "amer", 20000, prefix="A")
        make_org_tables(conn, "emea", 20000, prefix="E")
    apply(engine, settings_for([org("amer"), org("emea")], [CONTACT_VIEW]))
    ascending = plan(engine, "select * from contacts order by lastname asc nulls first, id limit 26")
    descending = plan(engine, "select * from contacts order by lastname desc nulls last, id desc limit 26")
    for page in (ascending, descending):
        assert "Merge Append" in page and "Sort  " not in page and page.count("orgfeed_contact_lastname_idx") == 2
