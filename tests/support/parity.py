"""Exact checks of what the mirror holds: parity with the emulator's orgs, and what any crash may leave committed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import text

from app.emulator.emulator import Emulator
from tests.support.configs import OBJECTS

VIEWS = ("global_assessment", "global_contact")


def _plain(value):
    """A value in one comparable form (the emulator keeps floats, PostgreSQL returns Decimal)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def emulator_rows(emu: Emulator, org: str, sobject: str, columns: list[str]) -> dict[str, tuple]:
    """sfid -> (isdeleted, values of `columns`) for every record queryAll returns (live and recycle bin)."""
    table = emu.table(org, sobject)
    names = {field.name.lower(): field.name for field in table.sobject.fields}
    rows = {}
    for row in table.rows(include_deleted=True):
        values = tuple(_plain(table.value(row, names[column])) if column in names else None for column in columns)
        rows[table.record_id(row)] = (table.is_deleted(row), values)
    return rows


def database_rows(engine, org: str, sobject: str, columns: list[str]) -> dict[str, tuple]:
    select_list = ", ".join(f'"{column}"' for column in columns)
    with engine.connect() as conn:
        result = conn.execute(text(f'select sfid, isdeleted, {select_list} from "{org}"."{sobject.lower()}"'))
        return {row[0]: (row[1], tuple(_plain(value) for value in row[2:])) for row in result}


def mapped_columns(engine, org: str, sobject: str) -> list[str]:
    with engine.connect() as conn:
        names = (
            conn.execute(
                text(
                    "select column_name from information_schema.columns where table_schema = :s and table_name = :t "
                    "order by ordinal_position"
                ),
                {"s": org, "t": sobject.lower()},
            )
            .scalars()
            .all()
        )
    return [name for name in names if name not in ("id", "sfid", "isdeleted", "_hc_lastop", "_hc_err")]


def assert_parity(emu: Emulator, engine, org: str, sobject: str, *, purged_ok: bool = True) -> int:
    """Every record queryAll returns is in the table with the same values and deleted flag; returns the live count.

    Rows the table has beyond that must be tombstones of purged records (never live rows).
    """
    columns = mapped_columns(engine, org, sobject)
    expected = emulator_rows(emu, org, sobject, columns)
    actual = database_rows(engine, org, sobject, columns)
    missing = sorted(set(expected) - set(actual))
    assert not missing, f"{org}.{sobject}: rows missing from the table: {missing[:5]}"
    for sfid, (deleted, values) in expected.items():
        assert actual[sfid] == (deleted, values), f"{org}.{sobject} {sfid}: {actual[sfid]} != {(deleted, values)}"
    extra = {sfid: row for sfid, row in actual.items() if sfid not in expected}
    assert all(deleted for deleted, _ in extra.values()), (
        f"{org}.{sobject}: live rows Salesforce no longer has: {list(extra)[:5]}"
    )
    if not purged_ok:
        assert not extra
    return sum(1 for deleted, _ in expected.values() if not deleted)


def assert_every_object_in_parity(emu: Emulator, engine) -> None:
    for org in ("amer", "emea"):
        for sobject in OBJECTS:
            assert_parity(emu, engine, org, sobject)


def assert_committed_state_is_consistent(engine) -> None:
    """What holds after any crash: no duplicate rows, watermarks never ahead of the committed rows, whole views.

    - every table's sfids are unique, and so are the ids of every view;
    - each mapping's watermark is at most the newest SystemModstamp its table holds (a watermark ahead of
      the data would make the next incremental run skip rows);
    - no shadow table of an interrupted full load is left behind;
    - each view either does not exist yet or has every column of its spec and exactly the live rows of its
      base tables.
    """
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('amer', 'emea') and table_type = 'BASE TABLE'"
            )
        ).all()
        leftovers = [f"{schema}.{table}" for schema, table in tables if table.endswith("__shadow")]
        assert not leftovers, f"shadow tables outlived their transaction: {leftovers}"
        for schema, table in tables:
            columns = (
                conn.execute(
                    text(
                        "select column_name from information_schema.columns where table_schema = :s and table_name = :t"
                    ),
                    {"s": schema, "t": table},
                )
                .scalars()
                .all()
            )
            if "sfid" not in columns:
                continue
            total, distinct = conn.execute(
                text(f'select count(*), count(distinct sfid) from "{schema}"."{table}"')
            ).one()
            assert total == distinct, f"{schema}.{table}: {total - distinct} duplicate rows"
        for org, sobject, watermark in conn.execute(
            text("select org, sobject, watermark from orgfeed.mappings where watermark is not null")
        ).all():
            newest = conn.execute(text(f'select max(systemmodstamp) from "{org}"."{sobject.lower()}"')).scalar()
            assert newest is not None and watermark <= newest, (org, sobject, watermark, newest)
        present = set(conn.execute(text("select viewname from pg_views where schemaname = 'public'")).scalars())
        bases = {"global_assessment": "employeecrisisassessment", "global_contact": "contact"}
        for view in VIEWS:
            if view not in present:
                continue
            total, distinct = conn.execute(text(f"select count(*), count(distinct id) from public.{view}")).one()
            assert total == distinct, f"{view}: duplicate ids"
            live = sum(
                conn.execute(text(f'select count(*) from "{org}"."{bases[view]}" where isdeleted is not true')).scalar()
                for org in ("amer", "emea")
            )
            assert total == live, f"{view}: {total} rows but the tables hold {live} live rows"


def view_columns(engine, view: str) -> list[str]:
    with engine.connect() as conn:
        return (
            conn.execute(
                text(
                    "select column_name from information_schema.columns where table_schema = 'public' "
                    "and table_name = :v order by ordinal_position"
                ),
                {"v": view},
            )
            .scalars()
            .all()
        )
