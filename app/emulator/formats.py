"""Value formats on the wire: REST JSON values, Bulk API 2.0 CSV cells, and parsing written values.

Salesforce writes datetimes as `2024-01-31T09:30:00.000+0000` in REST JSON and as
`2024-01-31T09:30:00.000Z` in Bulk CSV; dates as `2024-01-31`; times as `09:30:00.000Z`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from app.emulator.errors import SalesforceError
from app.emulator.schema import NUMBER_TYPES, TEXT_TYPES, Field


def format_datetime(moment: datetime) -> str:
    """Return a datetime the way REST JSON shows it."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def format_time(value: time) -> str:
    return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def json_value(field_type: str, value: object) -> object:
    """Return `value` (a Python native) as REST JSON shows a field of `field_type`."""
    # The field type says which native `value` is.
    if value is None:
        return None
    if field_type == "datetime":
        return format_datetime(cast(datetime, value))
    if field_type == "date":
        return cast(date, value).isoformat()
    if field_type == "time":
        return format_time(cast(time, value))
    return value


def text_value(field_type: str, value: object) -> str:
    """Return a non-null `value` as Bulk results write it: datetimes in UTC with Z, booleans lower-case."""
    if field_type == "datetime":
        return format_datetime(cast(datetime, value))[:-5] + "Z"
    if field_type == "boolean":
        return "true" if value else "false"
    if field_type in ("date", "time"):
        return str(json_value(field_type, value))
    return str(value)


def csv_cell(field_type: str, value: object) -> str:
    """Return `value` as one quoted Bulk API 2.0 CSV cell; null is the empty string `""`."""
    if value is None:
        return '""'
    return '"' + text_value(field_type, value).replace('"', '""') + '"'


_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$")
_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?Z?$")


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 datetime as Salesforce accepts it (`Z`, `+00:00` or `+0000`; UTC if none)."""
    match = _DATETIME.match(text.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 datetime: {text!r}")
    day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or ".0")[1:].ljust(6, "0")[:6])
    moment = datetime.fromisoformat(day).replace(
        hour=int(hour), minute=int(minute), second=int(second), microsecond=micro
    )
    if zone in (None, "Z"):
        return moment.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
    return (moment - timedelta(minutes=offset)).replace(tzinfo=UTC)


def parse_value(field: Field, raw: object) -> object:
    """Return the native value for `raw` (a JSON value) written to `field`.

    Raises SalesforceError 400 JSON_PARSER_ERROR or STRING_TOO_LONG like the REST API.
    """
    if raw is None:
        return None
    try:
        return _parse(field, raw)
    except (TypeError, ValueError):
        raise SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {field.type} from value {raw!r} for field {field.name}",
        ) from None


def _parse(field: Field, raw: object) -> object:
    kind = field.type
    if kind in TEXT_TYPES:
        if not isinstance(raw, str):
            raise TypeError(raw)
        if field.length and len(raw) > field.length:
            raise SalesforceError(
                400,
                "STRING_TOO_LONG",
                f"{field.label}: data value too large: {raw[:40]} (max length={field.length})",
                [field.name],
            )
        return raw
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise TypeError(raw)
        return raw
    if kind in NUMBER_TYPES:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise TypeError(raw)
        number = float(raw)
        return int(number) if kind in ("int", "long") else round(number, field.scale)
    if kind == "date" and isinstance(raw, str):
        return date.fromisoformat(raw[:10])
    if kind == "datetime" and isinstance(raw, str):
        return parse_datetime(raw)
    if kind == "time" and isinstance(raw, str):
        match = _TIME.match(raw)
        if match is None:
            raise ValueError(raw)
        hour, minute, second, fraction = match.groups()
        return time(int(hour), int(minute), int(second), int((fraction or ".0")[1:].ljust(3, "0")) * 1000)
    if kind == "base64" and isinstance(raw, str):
        return raw
    raise TypeError(raw)
