"""Loading settings from the environment and orgfeed.toml.

`load_settings` turns both into a frozen `Settings`, reporting every problem at once in a
`ConfigError` whose lines name the file, the key and what is wrong. `load_database_settings`
reads only what the `db` commands need, so they work before any org is configured.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.config.document import read_document
from app.config.models import DatabaseSettings, MappingConfig, Settings

DEFAULT_CONFIG_PATH = "orgfeed.toml"


class ConfigError(Exception):
    """One or more configuration problems; `problems` holds one actionable line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def load_database_settings(environ: Mapping[str, str]) -> DatabaseSettings:
    """Database settings from the environment alone; raises ConfigError for a malformed URL."""
    problems: list[str] = []
    url = _read_database_url(environ, "DATABASE_URL", problems)
    odata_url = _read_database_url(environ, "ODATA_DATABASE_URL", problems)
    if problems:
        raise ConfigError(problems)
    data_dir = environ.get("ORGFEED_DATA_DIR") or _default_data_dir()
    return DatabaseSettings(url=url, data_dir=Path(data_dir).expanduser(), odata_url=odata_url)


def load_settings(
    environ: Mapping[str, str] | None = None,
    path: str | Path | None = None,
    *,
    resolve_secrets: bool = True,
) -> Settings:
    """Settings from `environ` (default os.environ) and the TOML file at `path` (default $ORGFEED_CONFIG).

    With `resolve_secrets=False` the credential variables are neither read nor required, for
    commands that never talk to Salesforce (views, feeds, serve).
    """
    environ = os.environ if environ is None else environ
    config_path = Path(path or environ.get("ORGFEED_CONFIG") or DEFAULT_CONFIG_PATH)
    problems: list[str] = []
    # Variables from a .env beside the config fill in what the environment lacks (as `heroku local` does).
    environ = {**read_dotenv(config_path.parent / ".env", problems), **environ}
    try:
        database = load_database_settings(environ)
    except ConfigError as error:
        problems.extend(error.problems)
        database = DatabaseSettings(url=None, data_dir=Path(_default_data_dir()))
    document = _read_toml(config_path, problems)
    settings = Settings(
        config_path=config_path, database=database, admin_password=environ.get("ORGFEED_ADMIN_PASSWORD") or None
    )
    if document is not None:
        parsed, document_problems = read_document(document, str(config_path), environ, resolve_secrets=resolve_secrets)
        problems.extend(document_problems)
        settings = replace(
            settings,
            orgs=parsed.orgs,
            mappings=parsed.mappings,
            views=parsed.views,
            feeds=parsed.feeds,
            sync=parsed.sync,
            hash_key=_read_hash_key(parsed.sync.hash_key_env, parsed.mappings, environ, resolve_secrets, problems),
        )
    if problems:
        raise ConfigError(problems)
    return settings


def read_dotenv(path: Path, problems: list[str]) -> dict[str, str]:
    """KEY=value lines of a .env file (comments, blank lines, `export` and quotes allowed); {} when absent."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    except OSError as error:
        problems.append(f"{path}: cannot be read: {error.strerror}")
        return {}
    values = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            problems.append(f"{path}: line {number}: expected KEY=value, got {line[:40]!r}")
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


MIN_HASH_KEY_LENGTH = 32


def _read_hash_key(
    variable: str, mappings: tuple[MappingConfig, ...], environ: Mapping[str, str], resolve: bool, problems: list[str]
) -> str | None:
    """The key of the `hash` policies from `variable`; a problem when a mapping hashes and it is missing or short."""
    value = environ.get(variable, "").strip()
    if not resolve or not any(mapping.hash for mapping in mappings):
        return value or None
    if len(value) < MIN_HASH_KEY_LENGTH:
        state = "is not set" if variable not in environ else f"has {len(value)} characters"
        problems.append(
            f"environment: {variable} {state}: a mapping hashes fields, so set it to a secret of at least "
            f"{MIN_HASH_KEY_LENGTH} characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`) "
            "and keep it: a new key changes every hash and reloads the hashed mappings"
        )
        return None
    return value


def require_admin_password(settings: Settings) -> str:
    """The dashboard password; raises ConfigError naming ORGFEED_ADMIN_PASSWORD when it is unset."""
    if not settings.admin_password:
        raise ConfigError(["environment: ORGFEED_ADMIN_PASSWORD is not set: set it to the dashboard's password"])
    return settings.admin_password


def _default_data_dir() -> str:
    import platformdirs

    return str(Path(platformdirs.user_data_dir("orgfeed")) / "postgres")


def _read_database_url(environ: Mapping[str, str], name: str, problems: list[str]) -> str | None:
    """The URL in `name` in libpq's postgresql:// form (Heroku's postgres:// is converted once, here)."""
    url = environ.get(name, "").strip()
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        problems.append(
            f"environment: {name}: expected a URL like postgresql://user:password@host:5432/dbname, "
            f"got one starting with {scheme + sep!r}"
        )
        return None
    return "postgresql://" + rest


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        problems.append(
            f"{path}: file not found: create it (see the commented example orgfeed.toml in the repository, "
            "or run `orgfeed emulator --config-out orgfeed.toml`) or point ORGFEED_CONFIG at it"
        )
    except tomllib.TOMLDecodeError as error:
        problems.append(f"{path}: not valid TOML: {error}")
    except OSError as error:
        problems.append(f"{path}: cannot be read: {error.strerror}")
    return None
