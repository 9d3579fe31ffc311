import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from app.warehouse.database import create_database_engine
from app.warehouse.metadata import SCHEMA, metadata
from app.warehouse.migrate import current_revision, downgrade_database, head_revision, upgrade_database

TABLES = {
    "access_log",
    "alembic_version",
    "feed_credentials",
    "feeds",
    "live_row_tables",
    "live_rows",
    "mappings",
    "orgs",
    "streams",
    "sync_log",
    "sync_run_objects",
    "sync_runs",
    "view_counts",
}


def include_orgfeed_schema(name, type_, parent_names):
    return name == SCHEMA if type_ == "schema" else True


def schema_differences(url: str) -> list:
    engine = create_database_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_schemas": True,
                    "include_name": include_orgfeed_schema,
                    "version_table_schema": SCHEMA,
                    "compare_type": True,
                },
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def tables_in(url: str, schema: str) -> set[str]:
    engine = create_database_engine(url, pool_size=1)
    try:
        return set(inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()


def test_upgrade_from_empty_database_to_head_creates_every_table(fresh_database_url):
    assert current_revision(fresh_database_url) is None
    assert upgrade_database(fresh_database_url) == (None, head_revision())
    assert tables_in(fresh_database_url, SCHEMA) == TABLES


def test_autogenerate_finds_no_difference_between_migrations_and_metadata(fresh_database_url):
    upgrade_database(fresh_database_url)
    assert schema_differences(fresh_database_url) == []


def test_upgrade_twice_changes_nothing(fresh_database_url):
    upgrade_database(fresh_database_url)
    assert upgrade_database(fresh_database_url) == (head_revision(), head_revision())
    assert schema_differences(fresh_database_url) == []


def test_downgrade_to_base_removes_orgfeeds_tables_and_leaves_other_schemas(fresh_database_url):
    engine = create_database_engine(fresh_database_url, pool_size=1)
    with engine.begin() as connection:
        connection.exec_driver_sql("create schema amer; create table amer.employee (id serial primary key)")
    engine.dispose()
    upgrade_database(fresh_database_url)
    downgrade_database(fresh_database_url, "base")
    assert tables_in(fresh_database_url, SCHEMA) == {"alembic_version"}
    assert tables_in(fresh_database_url, "amer") == {"employee"}


def test_sync_log_rejects_a_status_outside_organization_syncs_vocabulary(conn):
    conn.exec_driver_sql("insert into orgfeed.orgs (name) values ('amer')")
    conn.exec_driver_sql("insert into orgfeed.sync_log (org, action, status) values ('amer', 'Load', 'Succeeded')")
    savepoint = conn.begin_nested()
    with pytest.raises(IntegrityError, match="sync_log_status_check"):  # the driver's CheckViolation, wrapped
        conn.exec_driver_sql("insert into orgfeed.sync_log (org, action, status) values ('amer', 'Load', 'Done')")
    savepoint.rollback()
    assert conn.exec_driver_sql("select count(*) from orgfeed.sync_log").scalar() == 1
