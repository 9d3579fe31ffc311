"""A view rebuilt with fewer columns while the feed has its old columns cached: the next request still answers 200.

Found by the soak load test: `views apply` dropped a column from a view, and for the catalog's
cache lifetime every request without $select got a 500 (column "email" does not exist).
"""

from __future__ import annotations

import base64
from pathlib import Path

import psycopg
from psycopg import sql

from app.config import DatabaseSettings, Settings
from app.odata.app import create_app
from app.odata.feeds import create_feed, delete_feed, role_name_for
from tests.support.databases import unique_name


def test_requests_after_a_view_lost_a_column_are_answered_from_the_new_columns(database_url, engine):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "create table people_src (id varchar(18) primary key, geo varchar(4), name text, email text);"
            "insert into people_src values ('p1', 'AMER', 'Ann', 'ann@example.com'), ('p2', 'EMEA', 'Bob', null);"
            "create view people as select id, geo, name, email from people_src;"
        )
    feed = unique_name("rebuilt").replace("_", "")
    credential = create_feed(engine, feed, ["people"], base_url="http://localhost").credential
    try:
        settings = Settings(
            config_path=Path("orgfeed.toml"), database=DatabaseSettings(url=database_url, data_dir=Path("/nonexistent"))
        )
        client = create_app(settings, engine=engine, catalog_ttl=3600).test_client()
        token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
        root = f"/odata/v4/{feed}/"
        assert client.get(root + "people('p1')", headers=headers).get_json()["email"] == "ann@example.com"

        with psycopg.connect(database_url, autocommit=True) as conn:  # what `views apply` does when a column goes
            conn.execute("begin; drop view people; create view people as select id, geo, name from people_src;")
            conn.execute(sql.SQL("grant select on people to {}; commit").format(sql.Identifier(role_name_for(feed))))

        entity = client.get(root + "people('p1')", headers=headers)
        assert entity.status_code == 200, entity.get_data(as_text=True)
        assert {key: value for key, value in entity.get_json().items() if not key.startswith("@")} == {
            "id": "p1",
            "geo": "AMER",
            "name": "Ann",
        }
        page = client.get(root + "people?$orderby=id", headers=headers)
        assert page.status_code == 200, page.get_data(as_text=True)
        assert [row["name"] for row in page.get_json()["value"]] == ["Ann", "Bob"]
        asked_for_the_old_column = client.get(root + "people?$select=email", headers=headers)
        assert asked_for_the_old_column.status_code == 400
        assert asked_for_the_old_column.get_json()["error"]["code"] == "BadRequest"
    finally:
        delete_feed(engine, feed)
