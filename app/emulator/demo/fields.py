"""Field constructors in describe's terms, and the system fields every object carries.

System fields follow the SOAP API Developer Guide, "System Fields": Id, IsDeleted, CreatedDate,
CreatedById, LastModifiedDate, LastModifiedById, SystemModstamp (and OwnerId on owned objects).
"""

from __future__ import annotations

from typing import Any

from app.emulator.schema import Field
from app.emulator.seed import Constant, Created, Generator, Modified, Reference

FieldSpec = tuple[Field, Generator]


def text(name: str, label: str, length: int, **kw: Any) -> Field:
    return Field(name, label, "string", length=length, **kw)


def email(name: str, label: str, **kw: Any) -> Field:
    return Field(name, label, "email", length=80, **kw)


def phone(name: str, label: str) -> Field:
    return Field(name, label, "phone", length=40)


def picklist(name: str, label: str, values: tuple[str, ...], **kw: Any) -> Field:
    return Field(name, label, "picklist", length=255, picklist_values=values, **kw)


def textarea(name: str, label: str, length: int = 255) -> Field:
    # Long text areas (over 255 characters) report extraTypeInfo "plaintextarea".
    extra = "plaintextarea" if length > 255 else None
    return Field(name, label, "textarea", length=length, extra_type_info=extra)


def number(name: str, label: str, kind: str, precision: int, scale: int, **kw: Any) -> Field:
    if kind == "int":
        return Field(name, label, "int", digits=precision, **kw)
    return Field(name, label, kind, precision=precision, scale=scale, **kw)


def reference(name: str, label: str, targets: tuple[str, ...], relationship: str, **kw: Any) -> Field:
    return Field(name, label, "reference", length=18, reference_to=targets, relationship_name=relationship, **kw)


def plain(name: str, label: str, kind: str, **kw: Any) -> Field:
    return Field(name, label, kind, **kw)


def system_fields(owned: bool = True) -> list[FieldSpec]:
    """Return the system fields (with their generators) in describe order."""
    readonly: dict[str, Any] = {
        "createable": False,
        "updateable": False,
        "nillable": False,
        "defaulted_on_create": True,
    }
    specs: list[FieldSpec] = [
        (Field("Id", "Record ID", "id", length=18, **readonly), Constant()),
    ]
    if owned:
        specs.append(
            (
                reference("OwnerId", "Owner ID", ("Group", "User"), "Owner", nillable=False, defaulted_on_create=True),
                Reference("User", 1, 1, 0),
            )
        )
    specs += [
        (Field("IsDeleted", "Deleted", "boolean", **readonly), Constant(False)),
        (Field("CreatedDate", "Created Date", "datetime", **readonly), Created()),
        (reference("CreatedById", "Created By ID", ("User",), "CreatedBy", **readonly), Reference("User", 1, 3, 1)),
        (Field("LastModifiedDate", "Last Modified Date", "datetime", **readonly), Modified()),
        (
            reference("LastModifiedById", "Last Modified By ID", ("User",), "LastModifiedBy", **readonly),
            Reference("User", 1, 2, 0),
        ),
        (Field("SystemModstamp", "System Modstamp", "datetime", **readonly), Modified()),
    ]
    return specs
