"""`--config-out`: a working orgfeed.toml for the emulated orgs, and the .env holding its secrets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

API_VERSION = "62.0"
MAPPED_OBJECTS = ("Employee", "EmployeeCrisisAssessment", "Account", "Contact")


def render_config(orgs: Sequence[Mapping[str, Any]], ca_bundle: Path) -> str:
    """Return orgfeed.toml text: `amer` on client credentials, `emea` on JWT bearer, the demo mappings, views, feed."""
    lines = [
        "# orgfeed.toml for the orgfeed emulator's demo orgs, written by `orgfeed emulator --config-out`.",
        "# Secrets are in the .env file beside this one. The CA bundle is the emulator's own CA:",
        "# it changes each time the emulator starts, so write this file again after a restart.",
        "",
    ]
    for org in orgs:
        name = str(org["name"])
        prefix = name.upper()
        lines += ["[[orgs]]", f'name = "{name}"', f'geo = "{org["geo"]}"', f'login_url = "{org["login_url"]}"']
        if name == "emea":
            lines += [
                'auth = "jwt"',
                f'client_id_env = "{prefix}_CLIENT_ID"',
                f'username_env = "{prefix}_USERNAME"',
                f'private_key_env = "{prefix}_PRIVATE_KEY"',
                f'audience = "{org["login_url"]}"',
            ]
        else:
            lines += [
                'auth = "client_credentials"',
                f'client_id_env = "{prefix}_CLIENT_ID"',
                f'client_secret_env = "{prefix}_CLIENT_SECRET"',
            ]
        lines += [f'api_version = "{API_VERSION}"', f'ca_bundle = "{ca_bundle}"', ""]
    for sobject in MAPPED_OBJECTS:
        lines += ["[[mappings]]", f'object = "{sobject}"', 'fields = "*"', ""]
    lines += [
        "[[views]]",
        'name = "global_assessment"',
        'object = "EmployeeCrisisAssessment"',
        'joins = [{ lookup = "EmployeeId", object = "Employee" }]',
        "columns = [",
        '    "Assessment",',
        '    "AssessmentDate",',
        '    "Employee.LastName as lastname",',
        '    "Employee.FirstName as firstname",',
        "]",
        "",
        "[[views]]",
        'name = "global_contact"',
        'object = "Contact"',
        'joins = [{ lookup = "AccountId", object = "Account" }]',
        "columns = [",
        '    "Account.Industry as industry",',
        '    "Account.Name as name",',
        '    "Phone",',
        '    "Fax",',
        '    "LastName",',
        '    "FirstName",',
        '    "Email",',
        '    "MobilePhone",',
        "]",
        'indexed = ["lastname", "email"]',
        "",
        "[[feeds]]",
        'name = "global"',
        'views = ["global_assessment", "global_contact"]',
        "",
    ]
    return "\n".join(lines)


def render_env(orgs: Sequence[Mapping[str, Any]], key_paths: Mapping[str, Path]) -> str:
    """Return the .env text (`KEY=value` lines) with the secrets the config names."""
    lines = ["# Secrets for the orgfeed emulator's demo orgs (written by `orgfeed emulator --config-out`)."]
    for org in orgs:
        name = str(org["name"])
        prefix = name.upper()
        if name == "emea":
            jwt = org["jwt"]
            lines += [
                f"{prefix}_CLIENT_ID={jwt['client_id']}",
                f"{prefix}_USERNAME={jwt['username']}",
                f"{prefix}_PRIVATE_KEY={key_paths[name]}",
            ]
        else:
            credentials = org["client_credentials"]
            lines += [
                f"{prefix}_CLIENT_ID={credentials['client_id']}",
                f"{prefix}_CLIENT_SECRET={credentials['client_secret']}",
            ]
    return "\n".join(lines) + "\n"


def write_config(
    path: Path, orgs: Sequence[Mapping[str, Any]], ca_bundle: Path, private_keys: Mapping[str, str]
) -> tuple[Path, Path]:
    """Write orgfeed.toml at `path`, the CA bundle, the JWT keys and .env beside it; return (config, env)."""
    folder = path.resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    ca_copy = folder / "emulator-ca.pem"
    ca_copy.write_bytes(ca_bundle.read_bytes())
    key_paths: dict[str, Path] = {}
    for name, pem in private_keys.items():
        key_paths[name] = folder / f"{name}-jwt-key.pem"
        key_paths[name].write_text(pem)
        key_paths[name].chmod(0o600)
    path.write_text(render_config(orgs, ca_copy))
    env_path = folder / ".env"
    env_path.write_text(render_env(orgs, key_paths))
    env_path.chmod(0o600)
    return path, env_path
