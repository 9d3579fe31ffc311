"""alembic environment: migrates the `orgfeed` schema, and nothing else, under an advisory lock."""

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from app.config import load_database_settings
from app.warehouse.database import create_database_engine, resolve_database_url, sqlalchemy_url
from app.warehouse.metadata import SCHEMA, metadata

# Two release phases (or a release and a developer) migrating at once wait for each other.
MIGRATION_LOCK = 7_146_920_518

config = context.config
if config.config_file_name is not None and not config.attributes.get("skip_logging_config"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    return resolve_database_url(load_database_settings(os.environ))


def include_name(name, type_, parent_names) -> bool:
    """Only the orgfeed schema is alembic's: org schemas and views belong to the loader and generator."""
    if type_ == "schema":
        return name == SCHEMA
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=sqlalchemy_url(database_url()).render_as_string(hide_password=False),
        target_metadata=metadata,
        include_schemas=True,
        include_name=include_name,
        version_table_schema=SCHEMA,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.execute(f"create schema if not exists {SCHEMA}")
        context.run_migrations()


def run_migrations_online() -> None:
    """Runs every pending migration in one transaction that first takes MIGRATION_LOCK.

    A transaction-level lock, not a session one: behind PgBouncer in transaction mode a session lock
    stays on whichever server connection took it, and its unlock runs on another.
    """
    engine = create_database_engine(database_url(), application_name="orgfeed-migrate", pool_size=1)
    try:
        with engine.connect() as connection, connection.begin():
            connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.execute(text(f"create schema if not exists {SCHEMA}"))
            context.configure(
                connection=connection,
                target_metadata=metadata,
                include_schemas=True,
                include_name=include_name,
                version_table_schema=SCHEMA,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
