"""orgfeed configuration for the emulator's demo orgs: Settings to run in-process, orgfeed.toml and its environment."""

from __future__ import annotations

import os
from pathlib import Path

import tomli_w

from app.config import DatabaseSettings, MappingConfig, OrgConfig, Settings, SyncConfig
from app.demo import DEMO_TABLES
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


def write_config(
    emu: Emulator, directory: Path, database_url: str, *, bulk_threshold: int = 10000, objects=OBJECTS
) -> tuple[Path, dict[str, str]]:
    """An orgfeed.toml for the emulator's demo orgs and the environment holding their secrets."""
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


def view_sections() -> str:
    """The demo's [[views]] tables (global_assessment, global_contact) as TOML, as the demo's config holds them."""
    return "\n" + tomli_w.dumps({"views": DEMO_TABLES["views"]})


def write_full_config(
    emu: Emulator,
    directory: Path,
    database_url: str,
    *,
    bulk_threshold: int = 1000,
    auto_apply_views: bool = True,
    extra_sync: str = "",
) -> tuple[Path, dict[str, str]]:
    """write_config's orgfeed.toml plus the demo views (applied by every sync when auto_apply_views)."""
    config, env = write_config(emu, directory, database_url, bulk_threshold=bulk_threshold)
    body = config.read_text().replace(
        "[sync]\n", f"[sync]\nauto_apply_views = {str(auto_apply_views).lower()}\n{extra_sync}", 1
    )
    config.write_text(body + view_sections())
    return config, env
