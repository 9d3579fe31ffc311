import pytest
from sqlalchemy import text

from app.warehouse import WarehouseError
from app.warehouse.tables import SchemaOwnedByAnotherOrg, TableChanges, ensure_org_schema, ensure_table, table_name
from app.warehouse.types import Column, SourceField, column_for

ORG_A = "00D000000000001AAA"
ORG_B = "00D000000000002BBB"
EMPLOYEE = [
    SourceField("Id", "id", 18),
    SourceField("SystemModstamp", "datetime"),
    SourceField("IsDeleted", "boolean"),
    SourceField("CreatedDate", "datetime"),
    SourceField("FirstName", "string", 40),
    SourceField("CurrentWellnessStatus", "picklist", 40),
    SourceField("Salary__c", "currency", precision=16, scale=2),
    SourceField("Photo__c", "base64"),
    SourceField("Location__c", "location"),
    SourceField("Location__Latitude__s", "double", precision=9, scale=6),
    SourceField("Mystery__c", "hologram"),
]


def columns_of(fields):
    return [column for column in map(column_for, fields) if column is not None]


def described_columns(conn, schema, table):
    return conn.execute(
        text(
            "select column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, is_nullable, "
            "collation_name from information_schema.columns where table_schema = :schema and table_name = :table "
            "order by ordinal_position"
        ),
        {"schema": schema, "table": table},
    ).all()


def test_ensure_table_creates_system_columns_then_mapped_fields(conn):
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    changes = ensure_table(conn, "emea", "Employee", columns_of(EMPLOYEE))
    assert changes == TableChanges(
        created=True,
        added=("firstname", "currentwellnessstatus", "salary__c", "location__latitude__s", "mystery__c"),
        text_fallbacks=("mystery__c",),
    )
    assert described_columns(conn, "emea", "employee") == [
        ("id", "integer", None, 32, 0, "NO", None),
        ("sfid", "character varying", 18, None, None, "NO", "C"),
        ("systemmodstamp", "timestamp with time zone", None, None, None, "NO", None),
        ("isdeleted", "boolean", None, None, None, "NO", None),
        ("createddate", "timestamp with time zone", None, None, None, "YES", None),
        ("_hc_lastop", "character varying", 32, None, None, "YES", None),
        ("_hc_err", "text", None, None, None, "YES", None),
        ("firstname", "character varying", 40, None, None, "YES", None),
        ("currentwellnessstatus", "character varying", 255, None, None, "YES", None),
        ("salary__c", "numeric", None, 16, 2, "YES", None),
        ("location__latitude__s", "numeric", None, 9, 6, "YES", None),
        ("mystery__c", "text", None, None, None, "YES", None),
    ]
    indexes = conn.execute(
        text(
            "select indexname, indexdef from pg_indexes where schemaname = 'emea' and tablename = 'employee' order by 1"
        )
    ).all()
    assert indexes == [
        ("employee_pkey", "CREATE UNIQUE INDEX employee_pkey ON emea.employee USING btree (id)"),
        (
            "hc_idx_employee_systemmodstamp",
            "CREATE INDEX hc_idx_employee_systemmodstamp ON emea.employee USING btree (systemmodstamp)",
        ),
        ("hcu_idx_employee_sfid", "CREATE UNIQUE INDEX hcu_idx_employee_sfid ON emea.employee USING btree (sfid)"),
    ]


def test_ensure_table_twice_changes_nothing(conn):
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    ensure_table(conn, "emea", "Employee", columns_of(EMPLOYEE))
    assert ensure_table(conn, "emea", "Employee", columns_of(EMPLOYEE)) == TableChanges(text_fallbacks=("mystery__c",))


def test_ensure_table_adds_new_columns_and_keeps_removed_ones(conn):
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    ensure_table(conn, "emea", "Employee", columns_of(EMPLOYEE[:5]))
    changes = ensure_table(conn, "emea", "Employee", columns_of([*EMPLOYEE[:4], SourceField("Badge__c", "string", 12)]))
    assert changes == TableChanges(added=("badge__c",))
    assert [row[0] for row in described_columns(conn, "emea", "employee")][-2:] == ["firstname", "badge__c"]


def test_widening_a_column_keeps_views_over_it_with_their_data_comments_and_grants(conn):
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    ensure_table(conn, "emea", "Employee", columns_of(EMPLOYEE[:5]))
    conn.execute(text("insert into emea.employee (sfid, systemmodstamp, firstname) values ('0HnA', now(), 'Ada')"))
    conn.execute(text("create view emea.names as select sfid, firstname from emea.employee"))
    conn.execute(text("create view public.names_upper as select sfid, upper(firstname) as name from emea.names"))
    conn.execute(
        text("create materialized view emea.name_counts as select firstname, count(*) as n from emea.names group by 1")
    )
    conn.execute(text("create index name_counts_firstname on emea.name_counts (firstname)"))
    conn.execute(text("comment on view emea.names is 'employee names'"))
    conn.execute(text("comment on column emea.names.firstname is 'from Employee.FirstName'"))
    conn.execute(text("create role orgfeed_test_reader"))
    conn.execute(text("grant select on emea.names to orgfeed_test_reader"))

    wider = columns_of([*EMPLOYEE[:4], SourceField("FirstName", "string", 80)])
    assert ensure_table(conn, "emea", "Employee", wider) == TableChanges(
        widened=(("firstname", "varchar(40)", "varchar(80)"),)
    )

    long_name = "A" * 80
    conn.execute(
        text("insert into emea.employee (sfid, systemmodstamp, firstname) values ('0HnB', now(), :name)"),
        {"name": long_name},
    )
    assert conn.execute(text("select sfid, firstname from emea.names order by sfid")).all() == [
        ("0HnA", "Ada"),
        ("0HnB", long_name),
    ]
    assert conn.execute(text("select name from public.names_upper order by sfid")).scalars().all() == ["ADA", long_name]
    assert conn.execute(text("select firstname, n from emea.name_counts")).all() == [("Ada", 1)]
    assert conn.execute(text("select obj_description('emea.names'::regclass, 'pg_class')")).scalar() == "employee names"
    assert conn.execute(text("select col_description('emea.names'::regclass, 2)")).scalar() == "from Employee.FirstName"
    assert (
        conn.execute(text("select has_table_privilege('orgfeed_test_reader', 'emea.names', 'select')")).scalar() is True
    )
    assert conn.execute(text("select indexname from pg_indexes where tablename = 'name_counts'")).scalars().all() == [
        "name_counts_firstname"
    ]
    assert conn.execute(
        text(
            "select data_type, character_maximum_length from information_schema.columns "
            "where table_name = 'names' and column_name = 'firstname'"
        )
    ).one() == ("character varying", 80)


def test_unsafe_type_change_is_reported_not_applied(conn):
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    ensure_table(conn, "emea", "Employee", columns_of(EMPLOYEE[:5]))
    changes = ensure_table(conn, "emea", "Employee", columns_of([*EMPLOYEE[:4], SourceField("FirstName", "date")]))
    assert changes == TableChanges(incompatible=(("firstname", "varchar(40)", "date"),))
    assert described_columns(conn, "emea", "employee")[-1][:3] == ("firstname", "character varying", 40)


def test_ensure_org_schema_records_the_owner_once(conn):
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    assert conn.execute(text("select org_id, org_name from emea._orgfeed_meta")).all() == [(ORG_A, "emea")]


def test_ensure_org_schema_refuses_a_schema_of_another_org_and_writes_nothing(conn):
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    with pytest.raises(SchemaOwnedByAnotherOrg) as refused:
        ensure_org_schema(conn, "emea", ORG_B, "emea")
    assert str(refused.value) == (
        f"schema 'emea' holds org {ORG_A}'s data, but the configured org 'emea' logged in to org {ORG_B}: "
        "a sandbox refresh or a config mix-up? Check login_url and credentials, or drop the schema to start over."
    )
    assert conn.execute(text("select org_id from emea._orgfeed_meta")).scalars().all() == [ORG_A]
    assert conn.execute(text("select tablename from pg_tables where schemaname = 'emea'")).scalars().all() == [
        "_orgfeed_meta"
    ]


def test_unknown_org_id_skips_the_check_and_the_first_known_one_claims_the_schema(conn):
    ensure_org_schema(conn, "emea", None, "emea")
    ensure_org_schema(conn, "emea", "", "emea")
    assert conn.execute(text("select count(*) from emea._orgfeed_meta")).scalar() == 0
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    ensure_org_schema(conn, "emea", None, "emea")
    assert conn.execute(text("select org_id from emea._orgfeed_meta")).scalars().all() == [ORG_A]
    with pytest.raises(SchemaOwnedByAnotherOrg):
        ensure_org_schema(conn, "emea", ORG_B, "emea")


def test_ensure_org_schema_refuses_a_schema_with_tables_it_did_not_create(conn):
    conn.execute(text("create schema emea"))
    conn.execute(text("create table emea.account (id serial)"))
    with pytest.raises(WarehouseError, match="already has tables but no _orgfeed_meta table"):
        ensure_org_schema(conn, "emea", ORG_A, "emea")


def test_table_name_lower_cases_the_object_and_refuses_names_postgres_would_truncate():
    assert table_name("EmployeeCrisisAssessment") == "employeecrisisassessment"
    with pytest.raises(WarehouseError, match="too long"):
        table_name("X" * 60)


def test_column_with_a_quote_in_its_name_is_quoted_not_injected(conn):
    ensure_org_schema(conn, "emea", ORG_A, "emea")
    ensure_table(conn, "emea", "Odd", [Column('we"ird', "text", 'We"ird')])
    assert described_columns(conn, "emea", "odd")[-1][0] == 'we"ird'
