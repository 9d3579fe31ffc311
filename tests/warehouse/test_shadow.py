import threading
import time

import pytest
from sqlalchemy import text

from app.warehouse import WarehouseError
from app.warehouse.database import create_database_engine
from app.warehouse.load import LoadResult, copy_csv_into, create_shadow, swap_shadow, upsert_csv
from app.warehouse.tables import ensure_org_schema, ensure_table
from app.warehouse.types import SourceField, column_for

FIELDS = [SourceField("Id", "id", 18), SourceField("SystemModstamp", "datetime"), SourceField("Name", "string", 20)]
COLUMNS = [column_for(field) for field in FIELDS]
OLD = [("0HnA", "old a"), ("0HnB", "old b"), ("0HnC", "old c")]
NEW = [("0HnA", "new a"), ("0HnD", "new d"), ("0HnE", "new e"), ("0HnF", "new f")]


def csv_of(records) -> bytes:
    return (
        b"Id,SystemModstamp,Name\n"
        + "".join(f"{sfid},2024-05-01T00:00:00Z,{name}\n" for sfid, name in records).encode()
    )


def set_up_employee(conn):
    ensure_org_schema(conn, "emea", "00D000000000001AAA", "emea")
    ensure_table(conn, "emea", "Employee", COLUMNS)


def reload_employee(conn, records, *, columns=COLUMNS) -> LoadResult:
    shadow = create_shadow(conn, "emea", "Employee", columns)
    result = copy_csv_into(conn, "emea", shadow, [csv_of(records)])
    swap_shadow(conn, "emea", "Employee")
    return result


def test_swap_replaces_the_table_with_its_indexes_sequence_and_views(conn):
    set_up_employee(conn)
    upsert_csv(conn, "emea", "Employee", [csv_of(OLD)])
    conn.execute(text("create index employee_name on emea.employee (name) where name is not null"))
    conn.execute(text("comment on table emea.employee is 'mirrored Employee'"))
    conn.execute(text("create view emea.names as select sfid, name from emea.employee"))
    conn.execute(text("create view public.all_names as select name from emea.names"))

    result = reload_employee(conn, NEW)

    assert (result.rows, result.inserted, result.errors) == (4, 4, ())
    assert conn.execute(text("select sfid, name, _hc_lastop from emea.employee order by sfid")).all() == [
        (sfid, name, "INSERTED") for sfid, name in NEW
    ]
    assert conn.execute(text("select name from public.all_names order by 1")).scalars().all() == [
        name for _, name in NEW
    ]
    assert conn.execute(
        text("select indexdef from pg_indexes where schemaname = 'emea' order by indexname")
    ).scalars().all() == [
        "CREATE INDEX employee_name ON emea.employee USING btree (name) WHERE (name IS NOT NULL)",
        "CREATE UNIQUE INDEX employee_pkey ON emea.employee USING btree (id)",
        "CREATE INDEX hc_idx_employee_systemmodstamp ON emea.employee USING btree (systemmodstamp)",
        "CREATE UNIQUE INDEX hcu_idx_employee_sfid ON emea.employee USING btree (sfid)",
    ]
    assert conn.execute(text("select pg_get_serial_sequence('emea.employee', 'id')")).scalar() == "emea.employee_id_seq"
    assert (
        conn.execute(text("select obj_description('emea.employee'::regclass, 'pg_class')")).scalar()
        == "mirrored Employee"
    )
    assert (
        conn.execute(
            text(
                "select column_default from information_schema.columns "
                "where table_name = 'employee' and column_name = '_hc_lastop'"
            )
        ).scalar()
        is None
    )
    upsert_csv(conn, "emea", "Employee", [b"Id,SystemModstamp,Name\n0HnG,2024-05-02T00:00:00Z,later\n"])
    assert conn.execute(text("select count(*) from emea.names")).scalar() == 5


def test_reload_keeps_columns_no_longer_mapped_so_views_survive(conn):
    set_up_employee(conn)
    conn.execute(text("create view emea.names as select sfid, name from emea.employee"))
    shadow = create_shadow(conn, "emea", "Employee", COLUMNS[:2])
    copy_csv_into(conn, "emea", shadow, [b"Id,SystemModstamp\n0HnA,2024-05-01T00:00:00Z\n"])
    swap_shadow(conn, "emea", "Employee")
    assert conn.execute(text("select sfid, name from emea.names")).all() == [("0HnA", None)]


def test_swap_refuses_a_shadow_holding_an_id_twice(conn):
    set_up_employee(conn)
    with pytest.raises(WarehouseError, match=r"holds some Ids more than once \(Key \(sfid\)=\(0HnA\) is duplicated.\)"):
        reload_employee(conn, [("0HnA", "x"), ("0HnA", "y")])


def test_swap_without_a_shadow_says_to_create_one(conn):
    set_up_employee(conn)
    with pytest.raises(WarehouseError, match="call create_shadow first"):
        swap_shadow(conn, "emea", "Employee")


def test_first_full_load_into_a_shadow_creates_the_table(conn):
    ensure_org_schema(conn, "emea", "00D000000000001AAA", "emea")
    reload_employee(conn, NEW)
    assert conn.execute(text("select count(*) from emea.employee")).scalar() == 4


def test_copy_csv_into_reports_bad_cells_and_the_newest_systemmodstamp(conn):
    set_up_employee(conn)
    shadow = create_shadow(conn, "emea", "Employee", COLUMNS)
    first = copy_csv_into(conn, "emea", shadow, [csv_of(OLD)])
    second = copy_csv_into(
        conn,
        "emea",
        shadow,
        [b"Id,Name,SystemModstamp\n0HnX,x,2024-06-01T00:00:00Z\n0HnY,much much too long a name,2024-05-01T00:00:00Z\n"],
    )
    assert first.max_systemmodstamp.isoformat() == "2024-05-01T00:00:00+00:00"
    assert second.max_systemmodstamp.isoformat() == "2024-06-01T00:00:00+00:00"
    assert (second.rows, second.inserted) == (2, 2)
    assert [(error.sfid, error.column) for error in second.errors] == [("0HnY", "name")]


def test_readers_of_a_view_see_all_old_rows_then_all_new_rows_never_an_empty_table(database_url):
    engine = create_database_engine(database_url, pool_size=2)
    try:
        with engine.begin() as conn:
            set_up_employee(conn)
            upsert_csv(conn, "emea", "Employee", [csv_of(OLD)])
            conn.execute(text("create view emea.names as select sfid, name from emea.employee"))
        old, new = sorted(OLD), sorted(NEW)
        seen, failures, stop = [], [], threading.Event()

        def read_continuously():
            with engine.connect() as reader:
                while not stop.is_set():
                    try:
                        seen.append(reader.execute(text("select sfid, name from emea.names order by sfid")).all())
                    except Exception as error:  # noqa: BLE001 - reported below: a reader must never fail
                        failures.append(error)
                    reader.rollback()

        thread = threading.Thread(target=read_continuously)
        thread.start()
        try:
            with engine.connect() as loader:
                with loader.begin():
                    shadow = create_shadow(loader, "emea", "Employee", COLUMNS)
                    copy_csv_into(loader, "emea", shadow, [csv_of(NEW)])
                    reads_before = len(seen)
                    deadline = time.monotonic() + 10
                    while len(seen) < reads_before + 3 and time.monotonic() < deadline:
                        time.sleep(0.01)
                    assert seen[-1] == old  # loading the shadow does not disturb readers
                    swap_shadow(loader, "emea", "Employee")
                    reads_at_swap = len(seen)
                    time.sleep(0.3)
                    assert len(seen) <= reads_at_swap + 1  # readers wait for the swap's commit
                time.sleep(0.2)
        finally:
            stop.set()
            thread.join()
        assert failures == []
        assert all(rows in (old, new) for rows in seen)
        assert seen[0] == old and seen[-1] == new
    finally:
        engine.dispose()


def reload_with_deleted_rows(conn, *, hard_delete: bool):
    set_up_employee(conn)
    shadow = create_shadow(conn, "emea", "Employee", COLUMNS)
    copy_csv_into(
        conn,
        "emea",
        shadow,
        [b"Id,SystemModstamp,IsDeleted\n0HnA,2024-05-01T00:00:00Z,false\n0HnB,2024-05-01T00:00:00Z,true\n"],
    )
    swap_shadow(conn, "emea", "Employee", hard_delete=hard_delete)
    return conn.execute(text("select sfid, isdeleted, _hc_lastop from emea.employee order by sfid")).all()


def test_reload_marks_rows_deleted_in_salesforce(conn):
    assert reload_with_deleted_rows(conn, hard_delete=False) == [("0HnA", False, "INSERTED"), ("0HnB", True, "DELETED")]


def test_reload_with_hard_delete_leaves_deleted_rows_out(conn):
    assert reload_with_deleted_rows(conn, hard_delete=True) == [("0HnA", False, "INSERTED")]
