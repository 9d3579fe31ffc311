"""Running the alembic migrations of the `orgfeed` schema from code (`orgfeed db upgrade`, the release phase, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from app.warehouse import WarehouseError
from app.warehouse.database import create_database_engine
from app.warehouse.metadata import SCHEMA

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str) -> Config:
    """alembic's Config for the project's migrations/, bound to the database at `url`."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = url
    config.attributes["skip_logging_config"] = True
    return config


def upgrade_database(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrates the database at `url` to `revision`; returns the (before, after) revisions."""
    before = current_revision(url)
    command.upgrade(alembic_config(url), revision)
    return before, current_revision(url)


def downgrade_database(url: str, revision: str) -> None:
    """Migrates the database at `url` down to `revision` ("base" removes every orgfeed table)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest revision in migrations/."""
    return ScriptDirectory.from_config(alembic_config("postgresql://unused/")).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at; None before the first upgrade."""
    engine = create_database_engine(url, application_name="orgfeed-migrate", pool_size=1)
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("select 1 from pg_tables where schemaname = :schema and tablename = 'alembic_version'"),
                {"schema": SCHEMA},
            ).first()
            if not exists:
                return None
            context = MigrationContext.configure(connection, opts={"version_table_schema": SCHEMA})
            return context.get_current_revision()
    finally:
        engine.dispose()


def require_current_schema(url: str) -> None:
    """Raises WarehouseError, saying what to run, unless the orgfeed schema is at the newest revision."""
    current, head = current_revision(url), head_revision()
    if current != head:
        where = "is missing" if current is None else f"is at revision {current}, not {head}"
        raise WarehouseError(f"the orgfeed schema {where}: run `orgfeed db upgrade` first")
