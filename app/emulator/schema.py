"""Object and field metadata: what describe reports and what queries and writes check against."""

from __future__ import annotations

from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import datetime

# Describe `type` values whose values are text (Apex Schema.DisplayType).
TEXT_TYPES = frozenset(
    {
        "string",
        "picklist",
        "multipicklist",
        "combobox",
        "email",
        "phone",
        "url",
        "textarea",
        "encryptedstring",
        "id",
        "reference",
    }
)
NUMBER_TYPES = frozenset({"int", "long", "double", "currency", "percent"})
COMPOUND_TYPES = frozenset({"address", "location"})

# SOAP types describe reports for each field type.
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "long": "xsd:long",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "time": "xsd:time",
    "base64": "xsd:base64Binary",
    "address": "urn:address",
    "location": "urn:location",
}


@dataclass(frozen=True)
class Field:
    """One field as describe shows it (only the attributes that vary are stored)."""

    name: str
    label: str
    type: str
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    calculated: bool = False
    custom: bool = False
    unique: bool = False
    external_id: bool = False
    name_field: bool = False
    auto_number: bool = False
    defaulted_on_create: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist_values: tuple[str, ...] = ()
    compound_field_name: str | None = None
    extra_type_info: str | None = None
    html_formatted: bool = False

    @property
    def is_compound(self) -> bool:
        return self.type in COMPOUND_TYPES

    @property
    def required(self) -> bool:
        """True when a create must set this field (describe: not nillable, createable, not defaulted)."""
        return not self.nillable and self.createable and not self.defaulted_on_create


@dataclass(frozen=True)
class SObjectType:
    """An object's metadata: name, labels, key prefix and fields in describe order."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[Field, ...]
    custom: bool = False
    _by_lower: dict[str, Field] = dataclass_field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_lower.update({f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> Field | None:
        """Return the field named `name` (case-insensitive, as SOQL and the REST API treat names)."""
        return self._by_lower.get(name.lower())

    def field_types(self) -> dict[str, str]:
        """Return canonical field name -> describe type, for the SOQL compiler."""
        return {f.name: f.type for f in self.fields}

    def with_field(self, new: Field) -> SObjectType:
        """Return a copy with `new` appended, or replacing the field of the same name."""
        kept = [new if f.name.lower() == new.name.lower() else f for f in self.fields]
        if self.field(new.name) is None:
            kept.append(new)
        return replace(self, fields=tuple(kept), _by_lower={})

    def without_field(self, name: str) -> SObjectType:
        """Return a copy without the field `name` (and, for a compound field, without its components)."""
        gone = name.lower()
        kept = tuple(f for f in self.fields if f.name.lower() != gone and (f.compound_field_name or "").lower() != gone)
        return replace(self, fields=kept, _by_lower={})


@dataclass(frozen=True)
class SchemaVersion:
    """An object's metadata with the time it last changed (for describe's If-Modified-Since)."""

    sobject: SObjectType
    changed_at: datetime
