"""Schema drift on demand: add, remove or retype a field of a table (the control API's field actions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from app.emulator.columns import ConstantColumn, ConvertedColumn
from app.emulator.errors import ControlError
from app.emulator.schema import NUMBER_TYPES, TEXT_TYPES, Field, SchemaVersion
from app.emulator.table import Table

DEFAULT_LENGTHS = {
    "string": 255,
    "email": 80,
    "phone": 40,
    "url": 255,
    "picklist": 255,
    "textarea": 255,
    "reference": 18,
}


def add_field(table: Table, field: Field, now: datetime) -> None:
    """Add `field` (null on every existing row); describe changes at `now`."""
    if table.sobject.field(field.name) is not None:
        raise ControlError(f"{table.sobject.name}.{field.name} already exists")
    if field.length == 0 and field.type in DEFAULT_LENGTHS:
        field = replace(field, length=DEFAULT_LENGTHS[field.type])
    table.add_column(field.name, ConstantColumn(None, field.type), field.type)
    table.set_schema(SchemaVersion(table.sobject.with_field(field), now))


def remove_field(table: Table, name: str, now: datetime) -> None:
    """Remove a field: describe stops listing it and SOQL naming it fails with INVALID_FIELD."""
    field = _existing(table, name)
    if field.name in ("Id", "IsDeleted", "SystemModstamp", "CreatedDate", "LastModifiedDate"):
        raise ControlError(f"{table.sobject.name}.{field.name} is a system field and cannot be removed")
    table.set_schema(SchemaVersion(table.sobject.without_field(field.name), now))


def retype_field(
    table: Table,
    name: str,
    field_type: str,
    now: datetime,
    length: int | None = None,
    precision: int | None = None,
    scale: int | None = None,
) -> None:
    """Change a field's type; values convert where Salesforce would keep them, else become null.

    Text to text keeps values; numbers to text become their text; text to a number keeps values
    that parse; anything else is null afterwards.
    """
    old = _existing(table, name)
    new = replace(
        old,
        type=field_type,
        length=length
        if length is not None
        else (DEFAULT_LENGTHS.get(field_type, 0) if field_type != old.type else old.length),
        precision=precision if precision is not None else old.precision,
        scale=scale if scale is not None else old.scale,
    )
    convert = _converter(old.type, field_type, new.scale)
    table.columns[old.name] = ConvertedColumn(table.columns[old.name], convert, field_type)
    for values in table.overrides.values():
        if old.name in values:
            values[old.name] = convert(values[old.name])
    table.set_schema(SchemaVersion(table.sobject.with_field(new), now))


def _existing(table: Table, name: str) -> Field:
    field = table.sobject.field(name)
    if field is None:
        raise ControlError(f"{table.sobject.name} has no field {name!r}")
    return field


def _converter(old_type: str, new_type: str, scale: int) -> Callable[[Any], object]:
    if new_type in TEXT_TYPES:
        return lambda value: None if value is None else str(value)
    if old_type in TEXT_TYPES | NUMBER_TYPES and new_type in NUMBER_TYPES:

        def to_number(value: Any) -> object:  # any native: what float() refuses becomes null
            try:
                number = float(value)
            except (TypeError, ValueError):
                return None
            return int(number) if new_type in ("int", "long") else round(number, scale)

        return to_number
    if old_type == new_type:
        return lambda value: value
    return lambda value: None
