"""Two full reloads of tables under one view, in parallel: the second waits for the first, both succeed.

Found by the crash test: a `sync --full` of both demo orgs failed with "could not open relation with
OID …" because the Contact and Account swaps (both under global_contact) each saved the view, and
the one committing second had read the OID of a view the first had already replaced.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from app.warehouse.load import copy_csv_into, create_shadow, swap_shadow, upsert_csv
from app.warehouse.tables import ensure_org_schema, ensure_table
from app.warehouse.types import SourceField, column_for

COLUMNS = [
    column_for(field)
    for field in (
        SourceField("Id", "id", 18),
        SourceField("SystemModstamp", "datetime"),
        SourceField("Name", "string", 20),
    )
]


def csv_of(prefix: str, count: int, name: str) -> bytes:
    return (
        b"Id,SystemModstamp,Name\n"
        + "".join(f"{prefix}{n:04},2024-05-01T00:00:00Z,{name} {n}\n" for n in range(count)).encode()
    )


def test_a_reload_waits_for_another_reload_under_the_same_view_and_both_land(engine):
    with engine.begin() as conn:
        ensure_org_schema(conn, "amer", "00D000000000001AAA", "amer")
        for sobject, prefix in (("Contact", "003"), ("Account", "001")):
            ensure_table(conn, "amer", sobject, COLUMNS)
            upsert_csv(conn, "amer", sobject, [csv_of(prefix, 3, "old")])
        conn.execute(
            text(
                "create view public.both as select sfid, name from amer.contact "
                "union all select sfid, name from amer.account"
            )
        )
        conn.execute(text("comment on view public.both is 'kept across swaps'"))

    first = engine.connect()
    transaction = first.begin()
    shadow = create_shadow(first, "amer", "Contact", COLUMNS)
    copy_csv_into(first, "amer", shadow, [csv_of("003", 5, "new")])
    swap_shadow(first, "amer", "Contact")  # the view is replaced inside this open transaction
    errors: list[BaseException] = []

    def reload_account() -> None:
        try:
            with engine.begin() as conn:
                account_shadow = create_shadow(conn, "amer", "Account", COLUMNS)
                copy_csv_into(conn, "amer", account_shadow, [csv_of("001", 4, "new")])
                swap_shadow(conn, "amer", "Account")
        except BaseException as error:  # noqa: BLE001 - a thread's error, reported by the assertion below
            errors.append(error)

    second = threading.Thread(target=reload_account)
    second.start()
    time.sleep(1.0)  # the second reload is now waiting for the first
    assert second.is_alive()
    transaction.commit()
    first.close()
    second.join(timeout=60)

    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(
            text("select count(*), count(*) filter (where name like 'new %') from public.both")
        ).one() == (9, 9)
        assert (
            conn.execute(text("select obj_description('public.both'::regclass, 'pg_class')")).scalar()
            == "kept across swaps"
        )
