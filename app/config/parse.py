"""Parsing an orgfeed.toml document into configuration records, collecting every problem on the way.

Pure: the document, the file name and the environment arrive as arguments (only `app.config`
reads files and the environment). Each problem is one line naming the file, the key and what
is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config.models import (
    AUTH_KEYS,
    FEED_KEYS,
    JOIN_KEYS,
    LOADER_KEYS,
    MAPPING_KEYS,
    ORG_KEYS,
    SECRET_KEYS,
    SYNC_KEYS,
    TOP_LEVEL_KEYS,
    VIEW_KEYS,
    ColumnConfig,
    FeedConfig,
    JoinConfig,
    Key,
    MappingConfig,
    OrgConfig,
    SyncConfig,
    ViewConfig,
)

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED_SCHEMAS = frozenset({"orgfeed", "public", "information_schema"})


@dataclass(frozen=True)
class ParsedConfig:
    orgs: tuple[OrgConfig, ...] = ()
    mappings: tuple[MappingConfig, ...] = ()
    views: tuple[ViewConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    sync: SyncConfig = SyncConfig()


def parse_document(
    document: Mapping[str, Any],
    filename: str,
    environ: Mapping[str, str],
    *,
    resolve_secrets: bool,
    problems: list[str],
) -> ParsedConfig:
    """The records of one TOML document; each problem found is appended to `problems`."""
    reader = Reader(filename, problems)
    reader.check_keys("", document, TOP_LEVEL_KEYS)
    parsed = ParsedConfig(
        orgs=tuple(_read_org(reader, i, t, environ, resolve_secrets) for i, t in reader.blocks(document, "orgs")),
        mappings=tuple(_read_mapping(reader, i, t) for i, t in reader.blocks(document, "mappings")),
        views=tuple(_read_view(reader, i, t) for i, t in reader.blocks(document, "views")),
        feeds=tuple(_read_feed(reader, i, t) for i, t in reader.blocks(document, "feeds")),
        sync=_read_sync(reader, document.get("sync", {})),
    )
    check_references(reader, parsed)
    return parsed


class Reader:
    """Reads typed values out of TOML tables, collecting a problem line for each mistake."""

    def __init__(self, filename: str, problems: list[str]):
        self.filename = filename
        self.problems = problems

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.filename}: {where}: {message}")

    def blocks(self, document: Mapping[str, Any], section: str) -> list[tuple[str, dict[str, Any]]]:
        """The tables of an array of tables like [[orgs]], each with the name used in messages."""
        value = document.get(section, [])
        if not isinstance(value, list):
            self.problem(section, f"must be written as [[{section}]] tables, got {_kind(value)}")
            return []
        blocks = []
        for index, table in enumerate(value, start=1):
            if not isinstance(table, dict):
                self.problem(f"{section}[{index}]", f"must be a table, got {_kind(table)}")
                continue
            name = table.get("name") or table.get("object")
            label = f"{section}.{name}" if isinstance(name, str) and name else f"{section}[{index}]"
            blocks.append((label, table))
        return blocks

    def check_keys(self, where: str, table: Mapping[str, Any], allowed: Mapping[str, Key]) -> None:
        for key in table:
            if key not in allowed:
                place = f"{where}.{key}" if where else key
                known = ", ".join(sorted(allowed))
                self.problem(place, f"unknown key (known keys here: {known})")
        for key, spec in allowed.items():
            if spec.required and key not in table:
                self.problem(f"{where}.{key}" if where else key, f"missing: {spec.doc}")

    def get(self, where: str, table: Mapping[str, Any], key: str, spec: Key) -> Any:
        """The value of `key` checked against `spec`, or its default when absent or wrong."""
        if key not in table:
            return spec.default
        value = table[key]
        place = f"{where}.{key}"
        if not spec.accepts(value):
            self.problem(place, f"must be {spec.kind_text}, got {_kind(value)} {value!r}")
            return spec.default
        if spec.choices and value not in spec.choices:
            choices = " | ".join(repr(choice) for choice in spec.choices)
            self.problem(place, f"must be one of {choices}, got {value!r}")
            return spec.default
        if spec.minimum is not None and value < spec.minimum:
            self.problem(place, f"must be at least {spec.minimum}, got {value!r}")
            return spec.default
        if spec.maximum is not None and value > spec.maximum:
            self.problem(place, f"must be at most {spec.maximum}, got {value!r}")
            return spec.default
        return value


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _read_org(
    reader: Reader, where: str, table: dict[str, Any], environ: Mapping[str, str], resolve_secrets: bool
) -> OrgConfig:
    reader.check_keys(where, table, ORG_KEYS)
    values = {key: reader.get(where, table, key, spec) for key, spec in ORG_KEYS.items()}
    name = values["name"] or ""
    if name and not IDENTIFIER.match(name):
        reader.problem(
            f"{where}.name",
            f"{name!r} is not a valid schema name: use lower-case letters, digits and underscores, "
            "starting with a letter or underscore, at most 63 characters",
        )
    elif name in RESERVED_SCHEMAS or name.startswith("pg_"):
        reader.problem(f"{where}.name", f"{name!r} is reserved: orgfeed or PostgreSQL uses that schema; pick another")
    managed_by = values["managed_by"]
    secret_envs: dict[str, str] = {}
    secrets: dict[str, str] = {}
    if managed_by == "heroku_connect":
        for key in LOADER_KEYS:
            if key in table:
                reader.problem(
                    f"{where}.{key}",
                    "not used: an org managed by Heroku Connect has no loader and takes no credentials",
                )
    else:
        _read_auth(reader, where, table, values, environ, resolve_secrets, secret_envs, secrets)
    ca_bundle = Path(values["ca_bundle"]).expanduser() if values["ca_bundle"] else None
    if ca_bundle is not None and not ca_bundle.is_file():
        reader.problem(f"{where}.ca_bundle", f"file {str(ca_bundle)!r} does not exist")
    return OrgConfig(
        name=name,
        geo=values["geo"] or name.upper(),
        managed_by=managed_by,
        auth=values["auth"],
        login_url=(values["login_url"] or "").rstrip("/") or None,
        instance_url=(values["instance_url"] or "").rstrip("/") or None,
        api_version=values["api_version"],
        ca_bundle=ca_bundle,
        delete_mode=values["delete_mode"],
        api_budget_percent=values["api_budget_percent"],
        audience=values["audience"],
        secret_envs=secret_envs,
        secrets=secrets,
    )


def _read_auth(
    reader: Reader,
    where: str,
    table: Mapping[str, Any],
    values: Mapping[str, Any],
    environ: Mapping[str, str],
    resolve_secrets: bool,
    secret_envs: dict[str, str],
    secrets: dict[str, str],
) -> None:
    """Checks an org's auth keys and reads the secrets they name into `secret_envs` and `secrets`."""
    auth = values["auth"]
    if auth is None:
        if "auth" not in table:
            reader.problem(f"{where}.auth", "missing: client_credentials | jwt | password | session")
        return
    required, optional = AUTH_KEYS[auth]
    allowed = set(required) | set(optional)
    every_auth_key = {key for pair in AUTH_KEYS.values() for group in pair for key in group}
    for key in sorted(every_auth_key - allowed):
        if key in table:
            reader.problem(f"{where}.{key}", f"not used with auth = {auth!r} (it needs {', '.join(required)})")
    for key in required:
        if key not in table:
            reader.problem(f"{where}.{key}", f"missing: auth = {auth!r} needs it")
    if auth != "session" and not values["login_url"]:
        reader.problem(f"{where}.login_url", "missing: the URL token requests go to, e.g. https://login.salesforce.com")
    for login_key in ("login_url", "instance_url"):
        url = values[login_key]
        if url and not url.startswith(("https://", "http://")):
            reader.problem(f"{where}.{login_key}", f"must be an http(s) URL, got {url!r}")
    name = values["name"] or where
    for secret, env_key in SECRET_KEYS.items():
        variable = values.get(env_key)
        if not variable or env_key not in allowed:
            continue
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", variable):
            reader.problem(f"{where}.{env_key}", f"{variable!r} is not an environment variable name")
            continue
        secret_envs[secret] = variable
        if not resolve_secrets:
            continue
        value = environ.get(variable, "")
        if value.strip():
            secrets[secret] = value.strip() if secret != "private_key" else value
        elif env_key in required:
            state = "is empty" if variable in environ else "is not set"
            reader.problem(
                f"{where}.{env_key}",
                f"environment variable {variable} {state}: org {name!r} needs its {secret.replace('_', ' ')} there",
            )


def _read_mapping(reader: Reader, where: str, table: dict[str, Any]) -> MappingConfig:
    reader.check_keys(where, table, MAPPING_KEYS)
    values = {key: reader.get(where, table, key, spec) for key, spec in MAPPING_KEYS.items()}
    fields = _read_star_list(reader, f"{where}.fields", values["fields"])
    return MappingConfig(
        object=values["object"] or "",
        fields=fields,
        orgs=tuple(values["orgs"]) if values["orgs"] is not None else None,
        poll_seconds=values["poll_seconds"],
    )


def _read_star_list(reader: Reader, where: str, value: Any) -> tuple[str, ...] | None:
    """A list of names, or None for "*"; a string other than "*" is a problem."""
    if value is None or value == "*":
        return None
    if isinstance(value, str):
        reader.problem(where, f'must be "*" or a list of names, got the string {value!r}')
        return None
    if not value:
        reader.problem(where, 'is empty: list at least one name, or "*" for all')
    return tuple(value)


def _read_view(reader: Reader, where: str, table: dict[str, Any]) -> ViewConfig:
    reader.check_keys(where, table, VIEW_KEYS)
    values = {key: reader.get(where, table, key, spec) for key, spec in VIEW_KEYS.items()}
    name = values["name"] or ""
    if name and not IDENTIFIER.match(name):
        reader.problem(
            f"{where}.name", f"{name!r} is not a valid view name: use lower-case letters, digits and underscores"
        )
    joins = []
    for index, join in enumerate(values["joins"] or [], start=1):
        place = f"{where}.joins[{index}]"
        if not isinstance(join, dict):
            reader.problem(
                place, f'must be a table like {{ lookup = "EmployeeId", object = "Employee" }}, got {_kind(join)}'
            )
            continue
        reader.check_keys(place, join, JOIN_KEYS)
        lookup = reader.get(place, join, "lookup", JOIN_KEYS["lookup"])
        parent = reader.get(place, join, "object", JOIN_KEYS["object"])
        if lookup and parent:
            joins.append(JoinConfig(lookup=lookup, object=parent))
    parents = {join.object.lower() for join in joins}
    columns = _read_star_list(reader, f"{where}.columns", values["columns"])
    parsed_columns = None
    if columns is not None:
        parsed_columns = tuple(_parse_column(reader, f"{where}.columns", text, parents) for text in columns)
    return ViewConfig(
        name=name,
        object=values["object"] or "",
        joins=tuple(joins),
        columns=tuple(column for column in parsed_columns if column) if parsed_columns is not None else None,
        orgs=tuple(values["orgs"]) if values["orgs"] is not None else None,
        id_strategy=values["id_strategy"],
        where=values["where"],
        materialized=values["materialized"],
        indexed=tuple(values["indexed"] or ()),
        searchable=tuple(values["searchable"] or ()),
    )


COLUMN = re.compile(r"^\s*(?:(\w+)\.)?(\w+)(?:\s+as\s+(\w+))?\s*$", re.IGNORECASE)


def _parse_column(reader: Reader, where: str, text: str, parents: set[str]) -> ColumnConfig | None:
    match = COLUMN.match(text)
    if not match:
        reader.problem(
            where, f'{text!r} is not a column: write "Field", "Parent.Field", optionally followed by "as alias"'
        )
        return None
    parent, field_name, alias = match.groups()
    if parent and parent.lower() not in parents:
        reader.problem(where, f"{text!r} names {parent!r}, which is not one of this view's joins")
        return None
    if alias and not IDENTIFIER.match(alias):
        reader.problem(where, f"{text!r}: alias {alias!r} must be a lower-case identifier")
        return None
    source = f"{parent}.{field_name}" if parent else field_name
    return ColumnConfig(source=source, alias=alias)


def _read_feed(reader: Reader, where: str, table: dict[str, Any]) -> FeedConfig:
    reader.check_keys(where, table, FEED_KEYS)
    values = {key: reader.get(where, table, key, spec) for key, spec in FEED_KEYS.items()}
    name = values["name"] or ""
    if name and not re.match(r"^[a-z][a-z0-9_-]{0,62}$", name):
        reader.problem(f"{where}.name", f"{name!r} is not a valid feed name: lower-case letters, digits, '-' and '_'")
    return FeedConfig(name=name, views=tuple(values["views"] or ()))


def _read_sync(reader: Reader, table: Any) -> SyncConfig:
    if not isinstance(table, dict):
        reader.problem("sync", f"must be a table [sync], got {_kind(table)}")
        return SyncConfig()
    reader.check_keys("sync", table, SYNC_KEYS)
    return SyncConfig(**{key: reader.get("sync", table, key, spec) for key, spec in SYNC_KEYS.items()})


def check_references(reader: Reader, parsed: ParsedConfig) -> None:
    """Cross-table checks: unique names, and every org, view and object reference resolving."""
    _check_unique(reader, "orgs", [(f"orgs.{org.name}", org.name) for org in parsed.orgs], "schema name")
    _check_unique(reader, "orgs", [(f"orgs.{org.name}.geo", org.geo) for org in parsed.orgs], "geo")
    _check_unique(reader, "views", [(f"views.{view.name}", view.name) for view in parsed.views], "name")
    _check_unique(reader, "feeds", [(f"feeds.{feed.name}", feed.name) for feed in parsed.feeds], "name")
    known = {org.name for org in parsed.orgs}
    loaded = {org.name for org in parsed.orgs if org.is_loaded}
    for mapping in parsed.mappings:
        for org in mapping.orgs or ():
            if org not in known:
                reader.problem(
                    f"mappings.{mapping.object}.orgs", f"names org {org!r}, which is not defined in [[orgs]]"
                )
            elif org not in loaded:
                reader.problem(
                    f"mappings.{mapping.object}.orgs",
                    f"names org {org!r}, which Heroku Connect fills: orgfeed does not load it",
                )
    for view in parsed.views:
        for org in view.orgs or ():
            if org not in known:
                reader.problem(f"views.{view.name}.orgs", f"names org {org!r}, which is not defined in [[orgs]]")
    view_names = {view.name for view in parsed.views}
    for feed in parsed.feeds:
        for view in feed.views:
            if view not in view_names:
                reader.problem(f"feeds.{feed.name}.views", f"names view {view!r}, which is not defined in [[views]]")


def _check_unique(reader: Reader, section: str, places: list[tuple[str, str]], what: str) -> None:
    """One problem for each (place, value) whose value an earlier entry already has."""
    seen: set[str] = set()
    for place, value in places:
        if value and value in seen:
            reader.problem(place, f"two {section} have the same {what} {value!r}: each must be unique")
        seen.add(value)
