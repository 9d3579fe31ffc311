"""What a write to a view may set, and the Salesforce field values an OData request body becomes. Pure.

A view's columns map back to fields of its base object through its [[views]] spec; `id`, `geo`,
columns read through a join and system columns are read-only (`Core.Computed` in $metadata, but
`geo` is `Core.Immutable`: a create names the org with it, an update cannot move a row).
Values convert from OData JSON by the column's Edm type; annotations (`@odata.type`, ...) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from app.config import OrgConfig, Settings, ViewConfig
from app.odata import BadQuery
from app.odata.catalog import KEY, Column, EntitySet

GEO = "geo"
# Columns Salesforce stamps itself; a view with `columns = "*"` shows them, no write may set them.
SYSTEM_COLUMNS = frozenset(
    {
        "systemmodstamp",
        "createddate",
        "createdbyid",
        "lastmodifieddate",
        "lastmodifiedbyid",
        "lastactivitydate",
        "lastvieweddate",
        "lastreferenceddate",
        "isdeleted",
    }
)


@dataclass(frozen=True)
class WriteTarget:
    """One view as writes see it: its base object, its orgs by geo, and the field behind each writable column."""

    view: str
    sobject: str
    id_strategy: str
    orgs: Mapping[str, OrgConfig]  # geo -> org
    fields: Mapping[str, str] | None  # view column -> Salesforce field; None: every non-read-only column ("*")

    def field_of(self, column: str) -> str | None:
        """The Salesforce field `column` writes, or None when the column is read-only."""
        if column in (KEY, GEO) or column in SYSTEM_COLUMNS:
            return None
        if self.fields is None:
            return column  # field names are case-insensitive in the REST API
        return self.fields.get(column)

    def record_id(self, key: str, geo: str) -> str:
        """The Salesforce record id behind view key `key` of a row from `geo`."""
        if self.id_strategy == "geo_prefixed":
            return key.removeprefix(f"{geo}-")
        return key

    def key_of(self, record_id: str, geo: str) -> str:
        return f"{geo}-{record_id}" if self.id_strategy == "geo_prefixed" else record_id


def write_targets(settings: Settings) -> dict[str, WriteTarget]:
    """view name -> WriteTarget for every plain (not materialized) view in the settings."""
    return {view.name: _target(view, settings.orgs) for view in settings.views if not view.materialized}


def _target(view: ViewConfig, orgs: tuple[OrgConfig, ...]) -> WriteTarget:
    chosen = {org.geo: org for org in orgs if org.is_loaded and (view.orgs is None or org.name in view.orgs)}
    fields = None
    if view.columns is not None:
        fields = {}
        for column in view.columns:
            if "." in column.source:
                continue  # read through a join: the parent's field, not the base object's
            fields[column.alias or column.source.lower()] = column.source
    return WriteTarget(view.name, view.object, view.id_strategy, chosen, fields)


def read_only_properties(entity_set: EntitySet, target: WriteTarget) -> dict[str, str]:
    """{property no update may set: its Core term}: `Immutable` for geo (a create names its org), else `Computed`."""
    return {
        column.property: "Immutable" if column.name == GEO else "Computed"
        for column in entity_set.columns
        if target.field_of(column.name) is None
    }


def field_values(
    entity_set: EntitySet,
    target: WriteTarget,
    body: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
    replace: bool = False,
) -> dict[str, Any]:
    """Salesforce field -> JSON value for request `body` (property -> OData JSON value).

    `current`: the row as the view shows it (column -> value), for an update. A read-only property
    may be sent unchanged (Salesforce Connect sends every field on an edit); a changed one is a 400
    naming it, and so is an unknown one. `replace` (PUT) clears the writable columns the body leaves out.
    """
    values: dict[str, Any] = {}
    named: set[str] = set()
    for name, value in body.items():
        if "@" in name:
            continue  # instance and property annotations
        column = entity_set.column(name, target="body")
        named.add(column.name)
        field = target.field_of(column.name)
        if field is None:
            if current is not None and column.name in current and _same(column, value, current[column.name]):
                continue
            if current is None and column.name != KEY and value is None:
                continue
            raise BadQuery(
                f"{column.property} is read-only in {entity_set.name}: leave it out of the body", target=column.property
            )
        values[field] = to_salesforce(column, value)
    if replace:
        for column in entity_set.columns:
            field = target.field_of(column.name)
            if field is not None and column.name not in named:
                values[field] = None
    return values


def _same(column: Column, value: Any, current: Any) -> bool:
    if value is None or current is None:
        return value is None and current is None
    try:
        return to_salesforce(column, value) == to_salesforce(column, _as_json(current))
    except BadQuery:
        return False


def _as_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:00))?$")
_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,12})?)?$")


def to_salesforce(column: Column, value: Any) -> Any:
    """`value` (OData JSON) as the REST API takes the field behind `column`; BadQuery naming the property otherwise."""
    if value is None:
        return None
    kind, prop = column.kind, column.property

    def bad(expected: str) -> BadQuery:
        return BadQuery(f"{prop}: expected {expected}, got {value!r}", target=prop)

    if kind == "string":
        if not isinstance(value, str):
            raise bad("a string")
        if column.max_length is not None and len(value) > column.max_length:
            raise BadQuery(f"{prop}: at most {column.max_length} characters, got {len(value)}", target=prop)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise bad("an integer")
        try:
            return int(value)
        except ValueError:
            raise bad("an integer") from None
    if kind in ("decimal", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise bad("a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise bad("a number") from None
        if not number.is_finite():
            raise bad("a finite number")
        exponent = number.as_tuple().exponent  # an int: the number is finite
        if (
            kind == "decimal"
            and isinstance(column.scale, int)
            and isinstance(exponent, int)
            and -exponent > column.scale
        ):
            raise BadQuery(f"{prop}: at most {column.scale} digits after the point, got {value!r}", target=prop)
        as_float = float(number)
        if Decimal(repr(as_float)) != number:
            raise BadQuery(f"{prop}: {value!r} has more digits than Salesforce keeps", target=prop)
        return int(number) if number == number.to_integral_value() and kind == "decimal" else as_float
    if kind == "date":
        # Edm.Date, also sent as a DateTimeOffset at midnight (Salesforce Connect maps Edm.Date to a DateTime).
        match = _DATE.match(value) if isinstance(value, str) else None
        if not match:
            raise bad("a date like 2024-01-31")
        try:
            return date.fromisoformat(match.group(1)).isoformat()
        except ValueError:
            raise bad("a date like 2024-01-31") from None
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise bad("a timestamp with an offset like 2024-01-31T09:30:00Z")
        return moment.isoformat(timespec="milliseconds")
    if kind == "time":
        match = _TIME.match(value) if isinstance(value, str) else None
        if not match:
            raise bad("a time like 09:30:00")
        hours, minutes, seconds, fraction = match.groups()
        millis = (fraction or ".000")[1:4].ljust(3, "0")
        return f"{hours}:{minutes}:{seconds or '00'}.{millis}Z"
    raise BadQuery(f"{prop}: a {column.edm_type} property cannot be written", target=prop)
