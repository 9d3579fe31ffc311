"""A feed site for hostile input, auth and the read role: known views, a sentinel, two feeds, gunicorn serving them."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import psycopg

from app.odata.feeds import Credential, create_feed, delete_feed
from app.warehouse.database import create_database_engine
from tests.support.databases import create_database, drop_database, unique_name
from tests.support.servers import web_server

HIDDEN_MARK = "HIDDENMARK"  # in every row of a view no test feed lists
ORG_MARK = "ORGSECRET"  # in every row of the per-org table amer.contact
SENTINEL_NOTE = "sentinel-intact"

SITE_SQL = f"""
create schema amer;
create table amer.contact (id serial primary key, sfid varchar(18) unique, lastname varchar(80), isdeleted boolean);
insert into amer.contact (sfid, lastname, isdeleted)
    select '0035e' || lpad(i::text, 13, '0'), '{ORG_MARK} ' || i, false from generate_series(1, 50) as i;
create table public.sentinel (id integer primary key, note text not null);
insert into public.sentinel values (1, '{SENTINEL_NOTE}');
create table public.people_src (
    id varchar(18) primary key, geo varchar(10) not null, name varchar(80), amount numeric(12, 2), born date,
    updated timestamptz, active boolean, notes text);
insert into public.people_src
    select 'p' || lpad(i::text, 5, '0'), (array['AMER', 'EMEA', 'APAC'])[1 + i % 3],
           (array['Smith', 'O''Brien', '50% off', 'a_b', 'Zoë', ' pad ', 'back\\slash', null])[1 + i % 8] || ' ' || i,
           case when i % 7 = 0 then null else (i * 13.37)::numeric(12, 2) end,
           date '1970-01-01' + i * 37, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour',
           case when i % 5 = 0 then null else i % 2 = 0 end, case when i % 4 = 0 then null else 'note ' || i end
    from generate_series(1, 300) as i;
create view public.feed_people as select id, geo, name, amount, born, updated, active, notes from public.people_src;
create view public.feed_big as select 'b' || lpad(i::text, 6, '0') as id, 'AMER'::varchar(4) as geo, i as n
    from generate_series(1, 3000) as i;
create view public.hidden_view as select 'h' || lpad(i::text, 5, '0') as id, 'AMER'::varchar(4) as geo,
    '{HIDDEN_MARK} ' || i as name from generate_series(1, 50) as i;
"""


@dataclasses.dataclass(frozen=True)
class FeedSite:
    """A migrated database with views, a sentinel table and a per-org schema, two feeds, and gunicorn serving them."""

    url: str  # gunicorn's base URL
    database_url: str
    feed: Credential  # lists feed_people and feed_big
    other: Credential  # lists hidden_view only
    engine: object

    def root(self, credential: Credential | None = None) -> str:
        return f"{self.url}/odata/v4/{(credential or self.feed).feed}/"


@contextlib.contextmanager
def feed_site(
    server_url: str,
    migrated_template: str,
    directory: Path,
    *,
    workers: int = 1,
    geos: list[str] | None = None,
    hide: tuple[str, ...] = (),
) -> Iterator[FeedSite]:
    """The site; with `geos` or `hide` the first feed is scoped (see app.views.scopes)."""
    name = unique_name("orgfeed_reliability")
    database_url = create_database(server_url, name, template=migrated_template)
    engine = create_database_engine(database_url, pool_size=2)
    feeds: list[str] = []
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(SITE_SQL)
        credentials = []
        for views, scope in ((["feed_people", "feed_big"], {"geos": geos, "hide": hide}), (["hidden_view"], {})):
            feeds.append(unique_name("rel").replace("_", ""))
            created = create_feed(engine, feeds[-1], views, base_url="http://localhost", **scope)
            assert created.credential is not None and created.role_name is not None
            credentials.append(created.credential)
        config = directory / "orgfeed.toml"
        config.write_text("")
        with web_server(database_url, config, workers=workers) as server:
            yield FeedSite(server.url, database_url, credentials[0], credentials[1], engine)
    finally:
        for feed in feeds:
            delete_feed(engine, feed)
        engine.dispose()
        drop_database(server_url, name)


def sentinel_rows(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("select id, note from public.sentinel order by id").fetchall()
