"""The Salesforce describe type -> PostgreSQL column type table, and which type changes are safe widenings.

Pure functions: no database. Heroku Connect's mapping is the model, except that numbers are
`numeric(precision, scale)` (HC's double precision loses cents) and datetimes are `timestamptz`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Salesforce fields that are the table's system columns rather than mapped columns.
SYSTEM_FIELD_COLUMNS = {
    "Id": "sfid",
    "SystemModstamp": "systemmodstamp",
    "IsDeleted": "isdeleted",
    "CreatedDate": "createddate",
}
SYSTEM_COLUMNS = ("id", "sfid", "systemmodstamp", "isdeleted", "createddate", "_hc_lastop", "_hc_err")

MAX_VARCHAR = 10_485_760  # PostgreSQL's limit for varchar(n)
MAX_NUMERIC_PRECISION = 1000  # PostgreSQL's limit for numeric(p, s)
INTEGER_DIGITS = {"smallint": 5, "integer": 10, "bigint": 19}


@dataclass(frozen=True)
class SourceField:
    """What the warehouse needs of one describe field."""

    name: str  # Salesforce API name, e.g. "CurrentWellnessStatus"
    type: str  # describe type, e.g. "picklist"
    length: int = 0
    precision: int = 0
    scale: int = 0


@dataclass(frozen=True)
class Column:
    """One mirrored column: its PostgreSQL name and type and the Salesforce field it mirrors."""

    name: str  # the Postgres column, lower-case
    sql_type: str  # e.g. "varchar(80)", "numeric(18,2)", "timestamptz"
    field: str  # the Salesforce field it mirrors
    fallback: bool = False  # True when the describe type was unknown and the column is text


def _varchar(field: SourceField, default: int = 0) -> str:
    length = field.length or default
    return f"varchar({length})" if 0 < length <= MAX_VARCHAR else "text"


def _textarea(field: SourceField) -> str:
    return f"varchar({field.length})" if 0 < field.length <= 255 else "text"


def _numeric(field: SourceField) -> str:
    if field.precision <= 0:
        return "numeric"
    precision = min(field.precision, MAX_NUMERIC_PRECISION)
    return f"numeric({precision},{max(0, min(field.scale, precision))})"


# The one Salesforce -> PostgreSQL type table. None: not stored (compound parents arrive as their
# component fields, e.g. Location__Latitude__s; base64 bodies are not replicated).
# https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm
POSTGRES_TYPES: dict[str, Callable[[SourceField], str] | None] = {
    "id": lambda field: "varchar(18)",
    "reference": lambda field: "varchar(18)",
    "string": _varchar,
    "email": _varchar,
    "phone": _varchar,
    "url": _varchar,
    "combobox": _varchar,
    "encryptedstring": _varchar,
    "picklist": lambda field: _varchar(field, 255) if field.length > 255 else "varchar(255)",
    "multipicklist": lambda field: _varchar(field) if field.length > 4099 else "varchar(4099)",
    "textarea": _textarea,
    "boolean": lambda field: "boolean",
    "int": lambda field: "integer",
    "long": lambda field: "bigint",
    "double": _numeric,
    "currency": _numeric,
    "percent": _numeric,
    "date": lambda field: "date",
    "datetime": lambda field: "timestamptz",
    "time": lambda field: "time",
    "anyType": lambda field: "text",
    "location": None,
    "address": None,
    "base64": None,
}


def column_name(field_name: str) -> str:
    """The PostgreSQL column for a Salesforce field: lower-cased, `__c` kept; Id is `sfid` (`id` is the serial key)."""
    return SYSTEM_FIELD_COLUMNS.get(field_name, field_name.lower())


def column_for(field: SourceField) -> Column | None:
    """The column mirroring `field`, or None when it is not stored (base64, location and address parents).

    Unknown describe types become text with `fallback=True`, so the caller can log them.
    """
    if field.type not in POSTGRES_TYPES:
        return Column(column_name(field.name), "text", field.name, fallback=True)
    rule = POSTGRES_TYPES[field.type]
    if rule is None:
        return None
    return Column(column_name(field.name), rule(field), field.name)


_SPELLINGS = {
    "character varying": "varchar",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "timestamp without time zone": "timestamp",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "bool": "boolean",
}


def normalized_type(sql_type: str) -> str:
    """`sql_type` spelled the way this module spells it: format_type's "character varying(80)" is "varchar(80)"."""
    text = re.sub(r"\s+", " ", sql_type.strip().lower()).replace(", ", ",")
    base, _, rest = text.partition("(")
    base = _SPELLINGS.get(base.strip(), base.strip())
    return f"{base}({rest}" if rest else base


_TYPE_SHAPE = re.compile(r"^(?P<base>[a-z ]+?)(?:\((?P<a>\d+)(?:,(?P<b>-?\d+))?\))?$")


def _parse(sql_type: str) -> tuple[str, int | None, int | None]:
    match = _TYPE_SHAPE.match(normalized_type(sql_type))
    if not match:
        return normalized_type(sql_type), None, None
    a, b = match["a"], match["b"]
    return match["base"], int(a) if a else None, int(b) if b else (0 if a else None)


def _numeric_digits(sql_type: str) -> tuple[int, int] | None:
    """(integer digits, scale) a type can hold; None for unconstrained numeric (any number)."""
    base, precision, scale = _parse(sql_type)
    if base in INTEGER_DIGITS:
        return INTEGER_DIGITS[base], 0
    if base == "numeric" and precision is not None:
        return precision - (scale or 0), scale or 0
    return None


def _is_numeric(sql_type: str) -> bool:
    return _parse(sql_type)[0] in INTEGER_DIGITS or _parse(sql_type)[0] == "numeric"


def widened_type(old: str, new: str) -> str | None:
    """The type to ALTER a column of type `old` to so it holds every value of `new`; None when no safe type exists.

    Returns `old` itself (normalized) when it already holds every value of `new` (a shrunk field
    keeps its wider column). Safe: varchar(n) -> varchar(m > n) or text; integer -> bigint or a
    numeric with enough integer digits; numeric(p, s) -> numeric with enough integer digits and scale.
    """
    old, new = normalized_type(old), normalized_type(new)
    if old == new:
        return old
    old_base, old_length, _ = _parse(old)
    new_base, new_length, _ = _parse(new)
    if old_base in ("varchar", "text") and new_base in ("varchar", "text"):
        if old_base == "text" or old_length is None:  # unbounded: holds any text
            return old
        if new_base == "varchar" and new_length is not None and new_length <= old_length:
            return old
        return new
    if _is_numeric(old) and _is_numeric(new):
        return _widened_number(old, new)
    return None


def _widened_number(old: str, new: str) -> str:
    old_digits, new_digits = _numeric_digits(old), _numeric_digits(new)
    if old_digits is None:
        return old
    if new_digits is None:
        return new
    (old_int, old_scale), (new_int, new_scale) = old_digits, new_digits
    if old_int >= new_int and old_scale >= new_scale:
        return old
    if new_scale == 0 and old_scale == 0 and _parse(old)[0] in INTEGER_DIGITS and _parse(new)[0] in INTEGER_DIGITS:
        return new
    integer_digits, scale = max(old_int, new_int), max(old_scale, new_scale)
    if integer_digits + scale > MAX_NUMERIC_PRECISION:
        return "numeric"
    return f"numeric({integer_digits + scale},{scale})"
