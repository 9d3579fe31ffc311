"""Record writes: create, update, delete, undelete and purge, with the REST API's checks and stamps.

Every write moves SystemModstamp and LastModifiedDate to the emulator's now, as Salesforce does.
`trusted` writes (the control API) may also set read-only system fields, e.g. to backdate rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from app.emulator.changes import Change
from app.emulator.columns import TemplateColumn
from app.emulator.errors import SalesforceError, not_found
from app.emulator.formats import parse_value
from app.emulator.table import Table
from app.emulator.validation import ValidationRule, check_rules


def find_row(table: Table, record_id: str, *, allow_deleted: bool = False) -> int:
    """Return the row of `record_id`; 404 NOT_FOUND if absent, 404 ENTITY_IS_DELETED if in the recycle bin."""
    row = table.row_of(record_id)
    if row is None or not table.exists(row):
        raise not_found()
    if table.is_deleted(row) and not allow_deleted:
        raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
    return row


def create_record(
    table: Table,
    raw: Mapping[str, object],
    user_id: str,
    now: datetime,
    *,
    trusted: bool = False,
    rules: Sequence[ValidationRule] = (),
) -> str:
    """Insert a record from JSON values; return its id. Raises SalesforceError 400 on bad input."""
    values = _checked_values(table, raw, creating=True, trusted=trusted)
    missing = [f.name for f in table.sobject.fields if f.required and values.get(f.name) is None]
    if missing:
        raise SalesforceError(
            400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
        )
    check_rules(rules, values.get)
    stamps: dict[str, object] = {
        "IsDeleted": False,
        "CreatedDate": now,
        "CreatedById": user_id,
        "LastModifiedDate": now,
        "LastModifiedById": user_id,
        "SystemModstamp": now,
        "OwnerId": user_id,
    }
    for field in table.sobject.fields:
        if field.type == "boolean" and field.defaulted_on_create and field.name not in values:
            values[field.name] = False
    row = table.insert({**stamps, **values})
    _fill_generated_names(table, row)
    table.report(Change("CREATE", table.record_id(row), tuple(values), now, user_id))
    return table.record_id(row)


def update_record(
    table: Table,
    record_id: str,
    raw: Mapping[str, object],
    user_id: str,
    now: datetime,
    *,
    trusted: bool = False,
    rules: Sequence[ValidationRule] = (),
) -> None:
    """Apply JSON values to a record (PATCH). Raises SalesforceError 400/404."""
    row = find_row(table, record_id)
    values = _checked_values(table, raw, creating=False, trusted=trusted)
    cleared = [
        name
        for name, value in values.items()
        if value is None and (field := table.sobject.field(name)) and field.required
    ]
    if cleared:
        raise SalesforceError(
            400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(cleared)}]", cleared
        )
    check_rules(rules, lambda name: values[name] if name in values else table.value(row, name))
    stamps = {"LastModifiedDate": now, "LastModifiedById": user_id, "SystemModstamp": now}
    table.write(row, {**stamps, **values})
    _fill_generated_names(table, row)
    table.report(Change("UPDATE", record_id, tuple(values), now, user_id))


def delete_record(table: Table, record_id: str, user_id: str, now: datetime) -> None:
    """Move a record to the recycle bin (DELETE). 404 if it is absent or already deleted."""
    row = find_row(table, record_id)
    table.recycle_bin[row] = now
    table.delete_log[row] = now
    table.write(row, {"IsDeleted": True, "SystemModstamp": now, "LastModifiedDate": now, "LastModifiedById": user_id})
    table.report(Change("DELETE", record_id, (), now, user_id))


def undelete_record(table: Table, record_id: str, user_id: str, now: datetime) -> None:
    """Restore a record from the recycle bin."""
    row = find_row(table, record_id, allow_deleted=True)
    if not table.is_deleted(row):
        raise SalesforceError(400, "UNDELETE_FAILED", "Entity is not in the recycle bin", [])
    del table.recycle_bin[row]
    table.delete_log.pop(row, None)
    table.write(row, {"IsDeleted": False, "SystemModstamp": now, "LastModifiedDate": now, "LastModifiedById": user_id})
    table.report(Change("UNDELETE", record_id, (), now, user_id))


def purge_records(
    table: Table, record_ids: Iterable[str] | None, now: datetime, *, trim_delete_log: bool = False
) -> int:
    """Empty records (all if `record_ids` is None) from the recycle bin for good; return how many.

    Purged records stay in the delete log (the `deleted` resource still lists them) unless
    `trim_delete_log`, which also moves `earliestDateAvailable` to now.
    """
    if record_ids is None:
        rows = list(table.recycle_bin)
    else:
        rows = [find_row(table, record_id, allow_deleted=True) for record_id in record_ids]
        if any(not table.is_deleted(row) for row in rows):
            raise SalesforceError(400, "INVALID_ID_FIELD", "Only deleted records can be purged", [])
    for row in rows:
        del table.recycle_bin[row]
        table.purged.add(row)
        table.invalidate(row)
        if trim_delete_log:
            table.delete_log.pop(row, None)
    if trim_delete_log:
        table.log_trimmed_at = now
    return len(rows)


def _checked_values(table: Table, raw: Mapping[str, object], *, creating: bool, trusted: bool) -> dict[str, object]:
    sobject = table.sobject
    values: dict[str, object] = {}
    readonly: list[str] = []
    for name, raw_value in raw.items():
        if name == "attributes":
            continue
        field = sobject.field(name)
        if field is None or field.is_compound:
            raise SalesforceError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject.name}")
        allowed = field.createable if creating else field.updateable
        if not allowed and not (trusted and field.name != "Id"):
            readonly.append(field.name)
            continue
        value = parse_value(field, raw_value)
        # Salesforce keeps no empty strings: "" is stored as null (and so leaves a required field missing).
        values[field.name] = None if value == "" else value
    if readonly:
        raise SalesforceError(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(readonly)}. Please check the security "
            "settings of this field and verify that it is read/write for your profile or "
            "permission set.",
            readonly,
        )
    return values


def _fill_generated_names(table: Table, row: int) -> None:
    """Set Name where Salesforce computes it: a person's full name, or the auto-number."""
    name_field = table.sobject.field("Name")
    if name_field is None or name_field.createable:
        return
    if table.sobject.field("LastName") is not None:
        parts = [table.value(row, "FirstName"), table.value(row, "LastName")]
        table.write(row, {"Name": " ".join(str(p) for p in parts if p)})
        return
    column = table.columns.get("Name")
    if isinstance(column, TemplateColumn) and not column.parts and row >= table.seeded:
        table.write(row, {"Name": column.value(row)})
