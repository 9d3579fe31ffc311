"""The shape of the configuration: the keys orgfeed.toml may hold (types, defaults, allowed values, one
table per section) and the frozen records they become.

Pure data; `app.config.parse` checks documents against it and `app.config` loads them. The
commented example orgfeed.toml documents the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Key:
    kind: str  # "any" | "str" | "int" | "bool" | "str_list" | "str_or_list" | "table_list"
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    doc: str = ""

    def accepts(self, value: Any) -> bool:
        """True when `value` has this key's TOML type (booleans are not integers here)."""
        if self.kind == "any":
            return True
        if self.kind == "str":
            return isinstance(value, str)
        if self.kind == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "str_list":
            return isinstance(value, list) and all(isinstance(item, str) for item in value)
        if self.kind == "str_or_list":
            return isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))
        if self.kind == "table_list":
            return isinstance(value, list)
        raise ValueError(f"unknown key kind {self.kind!r}")

    @property
    def kind_text(self) -> str:
        return {
            "any": "any value",
            "str": "a string",
            "int": "an integer",
            "bool": "true or false",
            "str_list": "an array of strings",
            "str_or_list": 'an array of strings or "*"',
            "table_list": "an array of tables",
        }[self.kind]


TOP_LEVEL_KEYS = {
    "sync": Key("any"),
    "orgs": Key("table_list"),
    "mappings": Key("table_list"),
    "views": Key("table_list"),
    "feeds": Key("table_list"),
}

SYNC_KEYS = {
    "lookback_minutes": Key("int", default=10, minimum=0, maximum=1440),
    "bulk_threshold": Key("int", default=10000, minimum=0),
    "reconcile_hours": Key("int", default=24, minimum=1),
    "workers": Key("int", default=4, minimum=1, maximum=64),
    "auto_apply_views": Key("bool", default=False),
    "request_timeout_seconds": Key("int", default=120, minimum=1, maximum=600),
}

# Credential name -> the org key naming the environment variable that holds it.
SECRET_KEYS = {
    "client_id": "client_id_env",
    "client_secret": "client_secret_env",
    "username": "username_env",
    "password": "password_env",
    "security_token": "security_token_env",
    "private_key": "private_key_env",
    "session_id": "session_id_env",
}

# auth kind -> (keys it requires, keys it may have)
AUTH_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "client_credentials": (("client_id_env", "client_secret_env"), ()),
    "jwt": (("client_id_env", "username_env", "private_key_env"), ("audience",)),
    "password": (("client_id_env", "client_secret_env", "username_env", "password_env"), ("security_token_env",)),
    "session": (("instance_url", "session_id_env"), ()),
}

# Keys only an org orgfeed loads may have (a Heroku Connect schema takes none of them).
LOADER_KEYS = (
    "auth",
    "login_url",
    "instance_url",
    "audience",
    "api_version",
    "ca_bundle",
    "delete_mode",
    "api_budget_percent",
    *SECRET_KEYS.values(),
)

ORG_KEYS = {
    "name": Key("str", required=True, doc='the org\'s name, also its PostgreSQL schema (e.g. "amer")'),
    "geo": Key("str"),
    "managed_by": Key("str", default="orgfeed", choices=("orgfeed", "heroku_connect")),
    "auth": Key("str", choices=tuple(AUTH_KEYS)),
    "login_url": Key("str"),
    "instance_url": Key("str"),
    "audience": Key("str"),
    "api_version": Key("str", default="62.0"),
    "ca_bundle": Key("str"),
    "delete_mode": Key("str", default="soft", choices=("soft", "hard")),
    "api_budget_percent": Key("int", default=80, minimum=1, maximum=100),
    **{env_key: Key("str") for env_key in SECRET_KEYS.values()},
}

MAPPING_KEYS = {
    "object": Key("str", required=True, doc='the Salesforce object\'s API name (e.g. "Employee")'),
    "fields": Key("str_or_list", default="*"),
    "orgs": Key("str_list"),
    "poll_seconds": Key("int", default=600, minimum=10),
}

JOIN_KEYS = {
    "lookup": Key("str", required=True, doc='the lookup field on the base object (e.g. "EmployeeId")'),
    "object": Key("str", required=True, doc='the parent object it points to (e.g. "Employee")'),
}

VIEW_KEYS = {
    "name": Key("str", required=True, doc="the view's name, a lower-case identifier"),
    "object": Key("str", required=True, doc="the base object whose rows the view holds"),
    "joins": Key("table_list"),
    "columns": Key("str_or_list", default="*"),
    "orgs": Key("str_list"),
    "id_strategy": Key("str", default="sfid", choices=("sfid", "geo_prefixed")),
    "where": Key("str"),
    "materialized": Key("bool", default=False),
    "indexed": Key("str_list"),
    "searchable": Key("str_list"),
}

FEED_KEYS = {
    "name": Key("str", required=True, doc="the feed's name: its service root is /odata/v4/<name>/"),
    "views": Key("str_list", required=True, doc="the views the feed exposes"),
}


@dataclass(frozen=True)
class OrgConfig:
    name: str
    geo: str
    managed_by: str = "orgfeed"
    auth: str | None = None
    login_url: str | None = None
    instance_url: str | None = None
    api_version: str = "62.0"
    ca_bundle: Path | None = None
    delete_mode: str = "soft"
    api_budget_percent: int = 80
    audience: str | None = None
    # Credential name ("client_id", "private_key", ...) -> the environment variable that holds it.
    secret_envs: Mapping[str, str] = field(default_factory=dict)
    # Credential name -> its value; empty when settings were loaded without secrets.
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_loaded(self) -> bool:
        """True when orgfeed syncs this org (not a schema some other tool fills)."""
        return self.managed_by == "orgfeed"


@dataclass(frozen=True)
class MappingConfig:
    object: str
    fields: tuple[str, ...] | None  # None means every field ("*")
    orgs: tuple[str, ...] | None  # None means every org orgfeed loads
    poll_seconds: int = 600


@dataclass(frozen=True)
class JoinConfig:
    lookup: str
    object: str


@dataclass(frozen=True)
class ColumnConfig:
    source: str  # "Field" or "Parent.Field"
    alias: str | None = None


@dataclass(frozen=True)
class ViewConfig:
    name: str
    object: str
    joins: tuple[JoinConfig, ...] = ()
    columns: tuple[ColumnConfig, ...] | None = None  # None means every mapped field ("*")
    orgs: tuple[str, ...] | None = None
    id_strategy: str = "sfid"
    where: str | None = None
    materialized: bool = False
    indexed: tuple[str, ...] = ()
    searchable: tuple[str, ...] = ()  # text columns given trigram indexes for contains/startswith/endswith/$search


@dataclass(frozen=True)
class FeedConfig:
    name: str
    views: tuple[str, ...]


@dataclass(frozen=True)
class SyncConfig:
    lookback_minutes: int = 10
    bulk_threshold: int = 10000
    reconcile_hours: int = 24
    workers: int = 4
    auto_apply_views: bool = False
    request_timeout_seconds: int = 120  # read timeout of each Salesforce request; a slower answer is retried


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the database is: `url` when DATABASE_URL is set, else the embedded server in `data_dir`."""

    url: str | None
    data_dir: Path
    odata_url: str | None = None

    @property
    def is_embedded(self) -> bool:
        return self.url is None


@dataclass(frozen=True)
class Settings:
    config_path: Path
    database: DatabaseSettings
    orgs: tuple[OrgConfig, ...] = ()
    mappings: tuple[MappingConfig, ...] = ()
    views: tuple[ViewConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    sync: SyncConfig = SyncConfig()
    admin_password: str | None = field(default=None, repr=False)

    def org(self, name: str) -> OrgConfig:
        """The org called `name`; KeyError when there is none."""
        for org in self.orgs:
            if org.name == name:
                return org
        raise KeyError(name)
