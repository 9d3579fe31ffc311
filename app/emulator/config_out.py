"""`--config-out`: what a configuration needs to know about the emulated orgs: their tables, secrets and files.

Only the orgs: the mappings, views and feeds of the demo come from the caller (`app.demo`), which
writes the one orgfeed.toml. `amer` logs in with client credentials, `emea` with the JWT bearer flow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

API_VERSION = "62.0"
JWT_ORG = "emea"  # the org whose config uses the JWT bearer flow; the others use client credentials


@dataclass(frozen=True)
class OrgFiles:
    """The [[orgs]] tables for the emulated orgs and the environment variables holding their secrets."""

    tables: tuple[dict[str, Any], ...]
    secrets: dict[str, str]


def org_tables(orgs: Sequence[Mapping[str, Any]], ca_bundle: Path) -> tuple[dict[str, Any], ...]:
    """The [[orgs]] tables (TOML-ready dicts) for the orgs `Emulator.describe_orgs` lists."""
    tables = []
    for org in orgs:
        name, prefix = str(org["name"]), str(org["name"]).upper()
        table: dict[str, Any] = {"name": name, "geo": org["geo"], "login_url": org["login_url"]}
        if name == JWT_ORG:
            table |= {
                "auth": "jwt",
                "client_id_env": f"{prefix}_CLIENT_ID",
                "username_env": f"{prefix}_USERNAME",
                "private_key_env": f"{prefix}_PRIVATE_KEY",
                "audience": org["login_url"],
            }
        else:
            table |= {
                "auth": "client_credentials",
                "client_id_env": f"{prefix}_CLIENT_ID",
                "client_secret_env": f"{prefix}_CLIENT_SECRET",
            }
        tables.append(
            table | {"api_version": API_VERSION, "ca_bundle": str(ca_bundle), "pubsub_url": org["pubsub_url"]}
        )
    return tuple(tables)


def org_secrets(orgs: Sequence[Mapping[str, Any]], key_paths: Mapping[str, Path]) -> dict[str, str]:
    """The values of the environment variables `org_tables` names (the JWT key as a file path)."""
    values: dict[str, str] = {}
    for org in orgs:
        name, prefix = str(org["name"]), str(org["name"]).upper()
        if name == JWT_ORG:
            jwt = org["jwt"]
            values |= {
                f"{prefix}_CLIENT_ID": jwt["client_id"],
                f"{prefix}_USERNAME": jwt["username"],
                f"{prefix}_PRIVATE_KEY": str(key_paths[name]),
            }
        else:
            credentials = org["client_credentials"]
            values |= {
                f"{prefix}_CLIENT_ID": credentials["client_id"],
                f"{prefix}_CLIENT_SECRET": credentials["client_secret"],
            }
    return values


def write_org_files(
    folder: Path, orgs: Sequence[Mapping[str, Any]], ca_bundle: Path, private_keys: Mapping[str, str]
) -> OrgFiles:
    """Copies the CA bundle and writes the JWT keys (owner-only) into `folder`; returns the org tables and secrets.

    The CA changes each time the emulator starts, so a configuration written from these files is
    good until the emulator restarts.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ca_copy = folder / "emulator-ca.pem"
    ca_copy.write_bytes(ca_bundle.read_bytes())
    key_paths: dict[str, Path] = {}
    for name, pem in private_keys.items():
        key_paths[name] = folder / f"{name}-jwt-key.pem"
        key_paths[name].write_text(pem)
        key_paths[name].chmod(0o600)
    return OrgFiles(tables=org_tables(orgs, ca_copy), secrets=org_secrets(orgs, key_paths))
