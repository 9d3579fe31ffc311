"""The records of the configuration: one pydantic model per table of orgfeed.toml, and the `Settings` holding them.

Each table's model is also the record the rest of orgfeed reads (`settings.views[0].joins`), so each
key's type, limits and default are stated once, here; adding a key is one line in its model. Orgs,
whose tables differ by kind, are in `app.config.orgs`. The commented example orgfeed.toml documents
the same keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator
from pydantic_core import PydanticKnownError

from app.config.keys import (
    IDENTIFIER,
    DefinedOrg,
    DefinedView,
    FeedName,
    KnownGeo,
    LoadedOrg,
    Names,
    StarOr,
    StringArray,
    Table,
    TableArray,
    VariableName,
    ViewName,
    kind_of,
    problem,
)
from app.config.orgs import OrgConfig


class SyncConfig(Table):
    """The [sync] table: how every sync run behaves."""

    lookback_minutes: Annotated[int, Field(ge=0, le=1440)] = 10
    bulk_threshold: Annotated[int, Field(ge=0)] = 10000
    reconcile_hours: Annotated[int, Field(ge=1)] = 24
    workers: Annotated[int, Field(ge=1, le=64)] = 4
    auto_apply_views: bool = False
    # The read timeout of each Salesforce request; a slower answer is abandoned and retried.
    request_timeout_seconds: Annotated[int, Field(ge=1, le=600)] = 120
    hash_key_env: VariableName = "ORGFEED_HASH_KEY"  # the variable holding the key of `hash` field policies
    access_log_days: Annotated[int, Field(ge=1)] = 90  # the worker deletes older access-log entries


# Fields orgfeed needs in clear to sync (the key, the watermark, tombstones): no policy may name them.
UNPROTECTABLE_FIELDS = frozenset({"id", "systemmodstamp", "isdeleted", "createddate"})


def _policy_fields(names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    """A mapping's `hash` or `redact` list, checked against its fields and the other list."""
    key = info.field_name
    clear = [name for name in names if name.lower() in UNPROTECTABLE_FIELDS]
    if clear:
        raise problem(f"{_listed(clear)}: orgfeed needs {'it' if len(clear) == 1 else 'them'} in clear to sync")
    fields = info.data.get("fields")  # absent when `fields` itself is at fault; None for "*"
    if fields is not None:
        selected = {name.lower() for name in fields}
        unmapped = [name for name in names if name.lower() not in selected]
        if unmapped:
            raise problem(f"{_listed(unmapped)} not mapped: add to this mapping's fields, or remove from {key}")
    if key == "redact":
        hashed = {name.lower() for name in info.data.get("hash", ())}
        both = [name for name in names if name.lower() in hashed]
        if both:
            raise problem(f"{_listed(both)} also in hash: a field takes one policy")
    return names


def _listed(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


class MappingConfig(Table):
    """A [[mappings]] table: a Salesforce object to mirror."""

    object: str = Field(description='the Salesforce object\'s API name (e.g. "Employee")')
    fields: StarOr[str] = None  # None means every field ("*")
    orgs: StringArray[LoadedOrg] | None = None  # None means every org orgfeed loads
    poll_seconds: Annotated[int, Field(ge=10)] = 600
    stream: bool | None = None  # None: as the org says
    hash: Annotated[Names, AfterValidator(_policy_fields)] = ()  # stored as their keyed HMAC-SHA256
    redact: Annotated[Names, AfterValidator(_policy_fields)] = ()  # stored as null

    def streams_in(self, org: OrgConfig) -> bool:
        """True when this mapping is streamed in `org` (then polling is its safety net, every poll_seconds)."""
        return org.stream if self.stream is None else self.stream


class JoinConfig(Table):
    """One of a view's `joins`: a parent object reached through a lookup field of the base object."""

    lookup: str = Field(description='the lookup field on the base object (e.g. "EmployeeId")')
    object: str = Field(description='the parent object it points to (e.g. "Employee")')

    @model_validator(mode="before")
    @classmethod
    def _must_be_a_table(cls, value: Any) -> Any:
        if isinstance(value, dict | JoinConfig):
            return value
        raise problem(f'must be a table like {{ lookup = "EmployeeId", object = "Employee" }}, got {kind_of(value)}')


@dataclass(frozen=True)
class ColumnConfig:
    """One of a view's `columns`, written "Field" or "Parent.Field", optionally followed by "as alias"."""

    source: str  # "Field" or "Parent.Field"
    alias: str | None = None


COLUMN = re.compile(r"^\s*(?:(\w+)\.)?(\w+)(?:\s+as\s+(\w+))?\s*$", re.IGNORECASE)


def _column_from_text(text: str) -> ColumnConfig:
    match = COLUMN.match(text)
    if not match:
        raise problem(f'{text!r} is not a column: write "Field", "Parent.Field", optionally followed by "as alias"')
    parent, field_name, alias = match.groups()
    if alias and not IDENTIFIER.match(alias):
        raise problem(f"{text!r}: alias {alias!r} must be a lower-case identifier")
    return ColumnConfig(source=f"{parent}.{field_name}" if parent else field_name, alias=alias)


def _column(value: Any, info: ValidationInfo) -> ColumnConfig:
    """The column `value` writes (or is), whose parent, if it names one, must be one of the view's joins."""
    if isinstance(value, str):
        column = _column_from_text(value)
    elif isinstance(value, ColumnConfig):
        column = value
    else:
        raise PydanticKnownError("string_type")
    parent, dot, _ = column.source.partition(".")
    joins = info.data.get("joins")  # absent when the joins are wrong themselves: nothing to check against
    if dot and joins is not None and parent.lower() not in {join.object.lower() for join in joins}:
        text = value if isinstance(value, str) else column.source
        raise problem(f"{text!r} names {parent!r}, which is not one of this view's joins")
    return column


# A column, written as text in orgfeed.toml.
Column = Annotated[ColumnConfig, BeforeValidator(_column)]


class ViewConfig(Table):
    """A [[views]] table: a SQL view over the org schemas; each row also carries `id` and `geo`."""

    name: ViewName = Field(description="the view's name, a lower-case identifier")
    object: str = Field(description="the base object whose rows the view holds")
    joins: TableArray[JoinConfig] = ()
    columns: StarOr[Column] = None  # None means every mapped field ("*")
    orgs: StringArray[DefinedOrg] | None = None  # None means every org
    id_strategy: Literal["sfid", "geo_prefixed"] = "sfid"
    where: str | None = None  # an SQL condition on the view's columns
    materialized: bool = False
    indexed: Names = ()
    searchable: Names = ()  # text columns given trigram indexes for contains/startswith/endswith/$search


def _not_empty_geos(geos: tuple[str, ...]) -> tuple[str, ...]:
    if not geos:
        raise problem("is empty: list at least one geo, or leave it out to serve every geo")
    return geos


def _hidden_columns(entries: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    """A feed's `hide` entries: "view.column" of a view the feed serves, never its id or geo."""
    views = info.data.get("views", ())
    for entry in entries:
        view, dot, column = entry.partition(".")
        if not dot or not view or not column:
            raise problem(f'{entry!r} must name a view\'s column as "view.column"')
        if view not in views:
            raise problem(f"{entry!r} names view {view!r}, which this feed does not serve")
        if column in ("id", "geo"):
            raise problem(f"{entry!r}: every view keeps its id and geo columns; they cannot be hidden")
    return entries


class FeedConfig(Table):
    """A [[feeds]] table: an OData service root with its own credentials."""

    name: FeedName = Field(description="the feed's name: its service root is /odata/v4/<name>/")
    views: StringArray[DefinedView] = Field(description="the views the feed exposes")
    geos: Annotated[StringArray[KnownGeo], AfterValidator(_not_empty_geos)] | None = None  # None: every geo
    hide: Annotated[Names, AfterValidator(_hidden_columns)] = ()  # "view.column" entries not served
    writable: bool = False  # accept OData POST, PATCH, PUT and DELETE, written to the org owning each row
    default_geo: KnownGeo | None = None  # the geo a create without a `geo` property goes to

    @property
    def is_scoped(self) -> bool:
        return self.geos is not None or bool(self.hide)


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
    """Everything orgfeed was configured with: the tables of orgfeed.toml and what the environment says."""

    config_path: Path
    database: DatabaseSettings
    orgs: tuple[OrgConfig, ...] = ()
    mappings: tuple[MappingConfig, ...] = ()
    views: tuple[ViewConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    sync: SyncConfig = field(default_factory=SyncConfig)
    admin_password: str | None = field(default=None, repr=False)
    hash_key: str | None = field(default=None, repr=False)  # the secret `[sync] hash_key_env` names

    def org(self, name: str) -> OrgConfig:
        """The org called `name`; KeyError when there is none."""
        for org in self.orgs:
            if org.name == name:
                return org
        raise KeyError(name)
