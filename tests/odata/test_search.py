"""Search without scans: `searchable` columns get pg_trgm GIN indexes; contains/startswith/endswith and $search keep
their exact results (case-sensitive, `%` and `_` literal, nulls never match) and are answered from those indexes."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from app.config import ColumnConfig, DatabaseSettings, OrgConfig, Settings, ViewConfig
from app.odata.catalog import read_entity_sets
from app.odata.compiler import Params
from app.odata.query import conditions, parse_query
from app.views import ViewError
from app.views.apply import apply_views
from app.views.catalog import TableColumn
from app.views.generate import render_views
from app.views.render import render_view
from app.views.resolve import resolve_view
from app.warehouse.database import create_database_engine
from app.warehouse.tables import ensure_org_schema, ensure_table
from app.warehouse.types import SourceField, column_for

FIELDS = [
    SourceField("Id", "id", 18),
    SourceField("SystemModstamp", "datetime"),
    SourceField("LastName", "string", 80),
    SourceField("Email", "email", 80),
    SourceField("Phone", "phone", 40),
    SourceField("Title", "string", 80),
]
VIEW = ViewConfig(
    name="searched",
    object="Contact",
    columns=(ColumnConfig("LastName"), ColumnConfig("Email"), ColumnConfig("Phone")),
    searchable=("lastname", "email", "phone"),
)
# Values chosen for LIKE's pitfalls: % _ and \ are literal, case matters, a short needle has no trigram.
SPECIAL = [
    "Smith",
    "smith",
    "SMITH",
    "Smithson",
    "50% off",
    "50 percent",
    "a_b",
    "axb",
    "back\\slash",
    "O'Brien",
    "Émile",
    "Zoë",
    "mi",
    None,
    "+1 415 555 0100",
    "x%_\\y",
]
NEEDLES = [
    "mit",
    "Mit",
    "SMI",
    "50%",
    "0%",
    "a_b",
    "_",
    "%",
    "\\",
    "back\\s",
    "O'B",
    "'",
    "Émi",
    "ë",
    "mi",
    "m",
    "+1 415",
    "415 555",
    "0100",
    "%_\\",
    "@example.",
    "zzz-none",
]


def org(name: str) -> OrgConfig:
    return OrgConfig(name=name, geo=name.upper(), auth="session", instance_url="https://x.example.com")


def settings_for(views) -> Settings:
    return Settings(
        config_path=Path("/nonexistent/orgfeed.toml"),
        database=DatabaseSettings(url=None, data_dir=Path("/nonexistent")),
        orgs=(org("amer"), org("emea")),
        views=tuple(views),
    )


def people(schema: str, count: int) -> list[tuple]:
    chooser = random.Random(schema)
    names = ["Smith", "Jones", "Nguyen", "Müller", "Rossi", "Tanaka", "García", "Okafor"]
    rows = []
    for n in range(count):
        special = SPECIAL[n % len(SPECIAL)] if n % 5 == 0 else None
        last = special if n % 5 == 0 else f"{chooser.choice(names)}{chooser.randrange(1000)}"
        email = None if n % 11 == 0 else f"{(last or 'none').lower().replace(' ', '.')}{n}@example.{schema}"
        phone = None if n % 13 == 0 else f"+{1 + n % 3} {400 + n % 200} 555 {n % 10000:04d}"
        rows.append((f"003{schema[0].upper()}{n:014d}", last, email, phone))
    return rows


@pytest.fixture(scope="module")
def searched(server_url, migrated_template):
    """A database with the view `searched` over two orgs of 3,000 contacts each, its trigram indexes applied."""
    name = f"orgfeed_search_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(migrated_template))
        )
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    engine = create_database_engine(url, pool_size=2)
    rows = {}
    try:
        with engine.begin() as conn:
            for schema in ("amer", "emea"):
                ensure_org_schema(conn, schema, None, schema)
                ensure_table(conn, schema, "Contact", [column_for(field) for field in FIELDS])
                rows[schema] = people(schema, 3000)
                driver = conn.connection.driver_connection
                with driver.cursor().copy(
                    f"copy {schema}.contact (sfid, systemmodstamp, lastname, email, phone) from stdin"
                ) as copy:
                    for sfid, last, email, phone in rows[schema]:
                        copy.write_row((sfid, "2024-01-01T00:00:00Z", last, email, phone))
        settings = settings_for([VIEW])
        with engine.connect() as conn:
            files = render_views(conn, settings)
        apply_views(engine, files, settings)
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute("analyze amer.contact; analyze emea.contact")
        yield url, [("AMER", *row) for row in rows["amer"]] + [("EMEA", *row) for row in rows["emea"]]
    finally:
        engine.dispose()
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def matching(url: str, raw_query: str, *, explain: bool = False):
    """The ids the feed's WHERE selects for `raw_query` (sorted), or its plan with sequential scans disabled."""
    with psycopg.connect(url) as pg:
        (entity_set,) = read_entity_sets(pg, ["searched"])
        params = Params()
        where = " and ".join(conditions(parse_query(raw_query), entity_set, params))
        if explain:
            # Fixed planner settings: only a trigram bitmap scan can avoid a (disabled) sequential scan.
            pg.execute("set enable_seqscan = off; set enable_indexscan = off")
            plan = pg.execute(f"explain (costs off) select id from searched where {where}", params.values).fetchall()
            return [line for (line,) in plan]
        return sorted(row[0] for row in pg.execute(f"select id from searched where {where}", params.values))


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def reference(rows, test) -> list[str]:
    """The ids whose value passes `test`, computed in Python: the OData meaning, independent of SQL."""
    return sorted(sfid for _geo, sfid, *values in rows if test(values))


COLUMN_INDEX = {"lastname": 0, "email": 1, "phone": 2}
FUNCTIONS = {
    "contains": lambda value, needle: value is not None and needle in value,
    "startswith": lambda value, needle: value is not None and value.startswith(needle),
    "endswith": lambda value, needle: value is not None and value.endswith(needle),
}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("column", sorted(COLUMN_INDEX))
def test_substring_functions_return_exactly_the_rows_they_always_did(searched, function, column):
    url, rows = searched
    for needle in NEEDLES:
        raw = f"$filter={function}({column},{literal(needle)})"
        expected = reference(
            rows, lambda values, needle=needle: FUNCTIONS[function](values[COLUMN_INDEX[column]], needle)
        )
        assert matching(url, raw.replace("%", "%25").replace("+", "%2B")) == expected, raw


def test_not_contains_keeps_the_null_rule(searched):
    url, rows = searched
    expected = reference(rows, lambda values: values[0] is not None and "mit" not in values[0])
    assert matching(url, "$filter=not contains(lastname,'mit')") == expected


def test_search_matches_the_phrase_in_any_text_column_including_the_id(searched):
    url, rows = searched
    for phrase in ("mit", "50%", "a_b", "E00000000000001", "example.emea", "zzz-none"):
        expected = sorted(
            sfid
            for geo, sfid, *values in rows
            if any(value is not None and phrase in value for value in (sfid, geo, *values))
        )
        assert matching(url, f"$search={phrase.replace('%', '%25')}") == expected, phrase


@pytest.mark.parametrize(
    "raw",
    [
        "$filter=contains(lastname,'mit')",
        "$filter=startswith(email,'smith')",
        "$filter=endswith(phone,'0100')",
        "$filter=" + " or ".join(f"contains({c},'mit') eq true" for c in ("lastname", "email", "phone")),
        "$search=mith",
    ],
)
def test_searches_are_answered_from_the_trigram_indexes(searched, raw):
    url, _ = searched
    plan = matching(url, raw, explain=True)
    assert not [line for line in plan if "Seq Scan" in line], plan
    trigram_scans = [line for line in plan if "Bitmap Index Scan on orgfeed_contact_" in line and "_trgm_idx" in line]
    assert len(trigram_scans) >= 2, plan  # every branch, each column of an `or`


def test_searchable_renders_the_extension_and_a_trigram_index_per_column_and_table():
    catalog = {
        (schema, "contact"): [
            TableColumn("sfid", "character varying(18)", True, "C"),
            TableColumn("isdeleted", "boolean", True),
            TableColumn("lastname", "character varying(80)", False),
            TableColumn("email", "character varying(80)", False),
            TableColumn("phone", "character varying(40)", False),
        ]
        for schema in ("amer", "emea")
    }
    sql = render_view(resolve_view(VIEW, settings_for([VIEW]).orgs, catalog))
    assert "create extension if not exists pg_trgm;\ncreate or replace view public.searched as" in sql
    assert [line for line in sql.splitlines() if "gin_trgm_ops" in line] == [
        f"create index if not exists orgfeed_contact_{column}_trgm_idx on {schema}.contact "
        f"using gin ({column} gin_trgm_ops);"
        for schema in ("amer", "emea")
        for column in ("sfid", "lastname", "email", "phone")
    ]


@pytest.mark.parametrize(
    ("searchable", "message"),
    [
        (("title",), "view searched: searchable column 'title' is not one of the view's columns"),
        (("nonumber",), None),
    ],
)
def test_a_searchable_column_must_be_a_text_column_of_the_view(searchable, message):
    catalog = {
        (schema, "contact"): [
            TableColumn("sfid", "character varying(18)", True, "C"),
            TableColumn("isdeleted", "boolean", True),
            TableColumn("lastname", "character varying(80)", False),
            TableColumn("nonumber", "integer", False),
        ]
        for schema in ("amer", "emea")
    }
    view = ViewConfig(
        name="searched",
        object="Contact",
        columns=(ColumnConfig("LastName"), ColumnConfig("NoNumber")),
        searchable=searchable,
    )
    with pytest.raises(ViewError) as caught:
        resolve_view(view, settings_for([view]).orgs, catalog)
    assert str(caught.value) == (
        message or "view searched: searchable column 'nonumber' is integer: only text columns can be searched"
    )


def test_a_server_without_pg_trgm_is_told_what_to_install(database_url):
    engine = create_database_engine(database_url, pool_size=1)
    try:
        # An extension no server has stands in for pg_trgm on a server without contrib.
        with pytest.raises(ViewError) as caught:
            apply_views(engine, {"searched.sql": "create extension if not exists pg_trgm_absent;"}, settings_for([]))
    finally:
        engine.dispose()
    assert str(caught.value).startswith(
        "view searched: its searchable columns need PostgreSQL's pg_trgm extension, which this server cannot provide"
    )
    assert "postgresql-contrib" in str(caught.value)


def test_a_raw_plus_in_a_literal_is_a_plus_and_a_form_encoded_one_a_space(searched):
    url, rows = searched
    expected = reference(rows, lambda values: values[2] is not None and values[2].startswith("+1 415"))
    assert expected
    assert matching(url, "$filter=startswith(phone,'+1%20415')") == expected  # a JavaScript client's URL
    assert matching(url, urlencode({"$filter": "startswith(phone,'+1 415')"})) == expected  # Python requests' params
