"""Change event schemas and payloads: one Avro record schema per object, encoded with fastavro.

The shape follows Salesforce's Pub/Sub change events: a `ChangeEventHeader` record first, then one
nullable field per record field, null unless the change set it. Datetimes are epoch milliseconds
(long), dates epoch days (int), times milliseconds of the day (int), as Pub/Sub delivers them.
Differences from Salesforce, kept on purpose: compound fields (addresses, geolocations) are left out
and their components appear as top-level fields, so the bitmaps never need the nested `pos-0x…` form.
https://developer.salesforce.com/docs/platform/pub-sub-api/guide/event-deserialization-considerations.html
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import fastavro

from app.emulator.schema import SObjectType

CHANGE_TYPES = (
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
    "SNAPSHOT",
)
# Not in change events: IsDeleted and SystemModstamp (the event itself says those), formula fields.
LEFT_OUT = frozenset({"Id", "IsDeleted", "SystemModstamp"})
_AVRO_TYPES = {"boolean": "boolean", "int": "int", "long": "long", "date": "int", "time": "int", "datetime": "long"}
_DOUBLES = frozenset({"double", "currency", "percent"})

HEADER_SCHEMA = {
    "type": "record",
    "name": "ChangeEventHeader",
    "namespace": "com.sforce.eventbus",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": {"type": "array", "items": "string"}},
        {
            "name": "changeType",
            "type": {"type": "enum", "name": "ChangeType", "namespace": "com.sforce.eventbus", "symbols": CHANGE_TYPES},
        },
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
        {"name": "diffFields", "type": {"type": "array", "items": "string"}},
        {"name": "changedFields", "type": {"type": "array", "items": "string"}},
    ],
}


@dataclass(frozen=True)
class EventSchema:
    """An object's change event schema: its JSON text, its id (a fingerprint) and the body fields in order."""

    sobject: str
    schema_json: str
    schema_id: str
    fields: tuple[tuple[str, str], ...]  # (field name, describe type), in schema order after the header
    parsed: Any

    def encode(self, record: Mapping[str, object]) -> bytes:
        """The Avro binary encoding of `record` (header and body values already in Avro types)."""
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, self.parsed, dict(record))
        return buffer.getvalue()


def event_name(sobject: str) -> str:
    """`Account` → `AccountChangeEvent`; `Shoe__c` → `Shoe__ChangeEvent` (Salesforce's channel names)."""
    return sobject[:-3] + "__ChangeEvent" if sobject.endswith("__c") else sobject + "ChangeEvent"


def build_schema(sobject: SObjectType) -> EventSchema:
    """The change event schema of `sobject` as its current describe has it."""
    fields = tuple(
        (field.name, field.type)
        for field in sobject.fields
        if field.name not in LEFT_OUT and not field.is_compound and not field.calculated and field.type != "base64"
    )
    document = {
        "type": "record",
        "name": event_name(sobject.name),
        "namespace": "com.sforce.eventbus",
        "fields": [
            {"name": "ChangeEventHeader", "type": HEADER_SCHEMA, "doc": "Data:EventHeader"},
            *({"name": name, "type": ["null", _avro_type(kind)], "default": None} for name, kind in fields),
        ],
    }
    schema_json = json.dumps(document, separators=(",", ":"))
    schema_id = hashlib.sha256(schema_json.encode()).hexdigest()[:22]
    return EventSchema(sobject.name, schema_json, schema_id, fields, fastavro.parse_schema(document))


def _avro_type(describe_type: str) -> str:
    if describe_type in _DOUBLES:
        return "double"
    return _AVRO_TYPES.get(describe_type, "string")


def avro_value(describe_type: str, value: object) -> object:
    """A record value (a Python native from the table) as the Avro type of its field."""
    if value is None:
        return None
    if describe_type == "datetime" and isinstance(value, datetime):
        return int(value.astimezone(UTC).timestamp() * 1000)
    if describe_type == "date" and isinstance(value, date):
        return (value - date(1970, 1, 1)).days
    if describe_type == "time" and isinstance(value, time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000
    if describe_type in _DOUBLES:
        return float(value) if isinstance(value, (int, float, Decimal, str)) else value
    if describe_type in ("int", "long"):
        return int(value) if isinstance(value, (int, float, Decimal, str)) else value
    if describe_type == "boolean":
        return bool(value)
    return str(value)


def field_bitmap(positions: Iterable[int]) -> list[str]:
    """Salesforce's bitmap of schema field positions: bit i set for field i, as upper-case hex `0x…`.

    Empty when no position is given. The nested `pos-0x…` entries for compound fields never occur here.
    """
    bits = 0
    for position in positions:
        bits |= 1 << position
    if not bits:
        return []
    digits = f"{bits:X}"
    return ["0x" + digits.rjust(len(digits) + len(digits) % 2, "0")]
