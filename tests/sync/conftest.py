"""Helpers for tests against the emulator: Settings and orgfeed.toml for its demo orgs, and exact parity checks.

The `emulator` and `engine` fixtures live in tests/conftest.py.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from app.config import DatabaseSettings, MappingConfig, OrgConfig, Settings, SyncConfig
from app.emulator.emulator import Emulator

OBJECTS = ("Employee", "EmployeeCrisisAssessment", "Account", "Contact")


def org_configs(emu: Emulator) -> tuple[OrgConfig, ...]:
    """The demo orgs as orgfeed config: amer by client credentials, emea by JWT bearer."""
    summary = {org["name"]: org for org in emu.describe_orgs()}
    amer, emea = summary["amer"], summary["emea"]
    return (
        OrgConfig(
            name="amer",
            geo="AMER",
            auth="client_credentials",
            login_url=amer["login_url"],
            ca_bundle=emu.ca_bundle,
            secret_envs={"client_id": "AMER_CLIENT_ID", "client_secret": "AMER_CLIENT_SECRET"},
            secrets=dict(amer["client_credentials"]),
        ),
        OrgConfig(
            name="emea",
            geo="EMEA",
            auth="jwt",
            login_url=emea["login_url"],
            ca_bundle=emu.ca_bundle,
            secret_envs={"client_id": "EMEA_CLIENT_ID", "username": "EMEA_USERNAME", "private_key": "EMEA_PRIVATE_KEY"},
            secrets={
                "client_id": emea["jwt"]["client_id"],
                "username": emea["jwt"]["username"],
                "private_key": emea["jwt"]["private_key_path"],
            },
        ),
    )


def make_settings(emu: Emulator, database_url: str, *, objects=OBJECTS, orgs=None, **sync) -> Settings:
    return Settings(
        config_path=Path("orgfeed.toml"),
        database=DatabaseSettings(url=database_url, data_dir=Path("/nonexistent")),
        orgs=orgs or org_configs(emu),
        mappings=tuple(MappingConfig(object=name, fields=None, orgs=None) for name in objects),
        sync=SyncConfig(**{"workers": 2, **sync}),
    )


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


def write_config(
    emu: Emulator, directory: Path, database_url: str, *, bulk_threshold: int = 10000, objects=OBJECTS
) -> tuple[Path, dict[str, str]]:
    """An orgfeed.toml for the emulator's demo orgs and the environment holding their secrets."""
    import os

    summary = {org["name"]: org for org in emu.describe_orgs()}
    mappings = "".join(f'[[mappings]]\nobject = "{name}"\nfields = "*"\n\n' for name in objects)
    config = directory / "orgfeed.toml"
    config.write_text(
        f"[sync]\nbulk_threshold = {bulk_threshold}\nworkers = 2\n\n"
        f'[[orgs]]\nname = "amer"\nlogin_url = "{summary["amer"]["login_url"]}"\nauth = "client_credentials"\n'
        f'client_id_env = "AMER_CLIENT_ID"\nclient_secret_env = "AMER_CLIENT_SECRET"\nca_bundle = "{emu.ca_bundle}"\n\n'
        f'[[orgs]]\nname = "emea"\nlogin_url = "{summary["emea"]["login_url"]}"\nauth = "jwt"\n'
        f'client_id_env = "EMEA_CLIENT_ID"\nusername_env = "EMEA_USERNAME"\nprivate_key_env = "EMEA_PRIVATE_KEY"\n'
        f'ca_bundle = "{emu.ca_bundle}"\n\n' + mappings
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORGFEED_")}
    env.update(
        {
            "ORGFEED_CONFIG": str(config),
            "DATABASE_URL": database_url,
            "AMER_CLIENT_ID": summary["amer"]["client_credentials"]["client_id"],
            "AMER_CLIENT_SECRET": summary["amer"]["client_credentials"]["client_secret"],
            "EMEA_CLIENT_ID": summary["emea"]["jwt"]["client_id"],
            "EMEA_USERNAME": summary["emea"]["jwt"]["username"],
            "EMEA_PRIVATE_KEY": summary["emea"]["jwt"]["private_key_path"],
        }
    )
    return config, env
