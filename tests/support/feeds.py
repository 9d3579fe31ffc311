"""The feed's test data and a Flask test client of one feed: the views `people` and `big`, Basic auth, settings.

PEOPLE_SQL holds a dozen rows chosen for the null, escaping and exact-value rules (ids a01..a08);
BIG_SQL 10,000 rows for paging. tests/odata/conftest.py loads both into one database per session.
"""

from __future__ import annotations

import base64
from pathlib import Path

from app.config import DatabaseSettings, Settings
from app.odata.feeds import Credential

PEOPLE_SQL = """
create table people_src (
    id varchar(18) primary key,
    geo varchar(10) not null,
    lastname varchar(80),
    firstname varchar(40),
    email varchar(80),
    amount numeric(12, 2),
    score double precision,
    headcount integer,
    big bigint,
    active boolean,
    born date,
    updated timestamptz,
    wake time,
    uid uuid,
    notes text,
    allowedvalue varchar(10),
    wellness__c varchar(20),
    tags jsonb
);
create view people as select id, geo, lastname, firstname, email, amount, score, headcount, big, active, born,
    updated, wake, uid, notes, allowedvalue, wellness__c, tags from people_src;
insert into people_src values
 ('a01', 'AMER', 'Smith', 'Ann', 'ann@example.com', 10.50, 1.5, 3, 9007199254740993, true, '1990-01-31',
  '2024-01-31 10:00:00+00', '09:30:00', '01234567-89ab-cdef-0123-456789abcdef', 'x', 'yes', 'Green', '{"a": 1}'),
 ('a02', 'AMER', 'O''Brien', 'Bob', 'bob@example.com', 20.00, 2.5, 5, 1, false, '1985-06-15',
  '2024-02-01 12:30:00.123+00', '18:00:00', null, '50% off', 'no', 'Red', null),
 ('a03', 'AMER', null, 'Cy', null, null, null, null, null, null, null, null, null, null, '500 items', null, null, null),
 ('a04', 'EMEA', 'smith', 'Dee', 'dee@example.eu', 99999999.99, -0.25, 0, -5, true, '2001-12-01',
  '2023-12-31 23:59:59+00', '00:00:00', 'ffffffff-0000-0000-0000-000000000000', 'a_b', 'yes', 'Green', '[1, 2]'),
 ('a05', 'EMEA', ' Smith ', 'Eve', 'eve@example.eu', 0.01, 1e10, 7, 42, false, '1970-01-01',
  '1970-01-01 00:00:00+00', '12:00:00', null, 'axb', 'no', 'Amber', null),
 ('a06', 'EMEA', 'MIXED Case', 'Fay', 'fay@example.eu', 5.00, 0, 1, 2, true, '1999-09-09',
  '2024-06-01 08:00:00+02', '07:15:00', null, 'back\\slash', 'yes', null, null),
 ('a07', 'APAC', 'Zed', null, 'zed@example.jp', -3.25, 3.75, 2, 3, null, '2010-10-10',
  '2020-05-05 05:05:05+00', '05:05:05', null, null, 'maybe', 'Green', null),
 ('a08', 'APAC', 'Smithson', 'Gus', 'gus@example.jp', 7.77, 7.0, 11, 4, true, '2000-02-29',
  '2022-02-22 22:22:22+00', '22:22:22', null, 'it''s', 'yes', 'Blue', null);
"""

BIG_SQL = """
create table big_src (id varchar(18) primary key, geo varchar(10) not null, n integer not null, label varchar(20));
insert into big_src select 'k' || lpad(i::text, 6, '0'), case when i % 2 = 0 then 'AMER' else 'EMEA' end, i,
    case when i % 10 = 0 then null else 'label ' || (i % 97) end from generate_series(1, 10000) as i;
create view big as select id, geo, n, label from big_src;
analyze big_src;
"""


def settings_for(url: str) -> Settings:
    """Settings reading the feed from the database at `url` (no orgfeed.toml, no embedded server)."""
    return Settings(config_path=Path("orgfeed.toml"), database=DatabaseSettings(url=url, data_dir=Path("/nonexistent")))


def basic(username: str, password: str) -> dict[str, str]:
    """The Authorization header of HTTP Basic for `username` and `password`."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class FeedClient:
    """A Flask test client bound to one feed's service root and credentials."""

    def __init__(self, app, credential: Credential):
        self.client = app.test_client()
        self.credential = credential
        self.root = f"/odata/v4/{credential.feed}/"
        self.headers = basic(credential.username, credential.password or "")

    def get(self, path: str = "", *, headers: dict | None = None, **kwargs):
        # buffered: the body is read and closed at once, which returns the request's connection to the pool
        return self.client.get(self.root + path, headers={**self.headers, **(headers or {})}, buffered=True, **kwargs)

    def json(self, path: str, **kwargs) -> dict:
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def ids(self, path: str, **kwargs) -> list[str]:
        return [row["id"] for row in self.json(path, **kwargs)["value"]]
