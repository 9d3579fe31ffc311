"""Object metadata from describe: the fields orgfeed can mirror and their types."""

from __future__ import annotations

from dataclasses import dataclass

from app.salesforce import NotModified
from app.salesforce.client import OrgClient

# The fields every mirrored table holds as system columns, whatever the mapping lists.
SYSTEM_FIELDS = ("Id", "SystemModstamp", "IsDeleted", "CreatedDate")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    calculated: bool = False
    compound_field_name: str | None = None
    reference_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class SObject:
    name: str
    fields: tuple[Field, ...]
    queryable: bool = True
    replicateable: bool = True
    last_modified: str | None = None  # the Last-Modified header: the next describe asks If-Modified-Since

    def field(self, name: str) -> Field | None:
        """The field called `name` (case-insensitive, as Salesforce resolves names), or None."""
        wanted = name.lower()
        return next((field for field in self.fields if field.name.lower() == wanted), None)


def parse_describe(body: dict, last_modified: str | None = None) -> SObject:
    """An SObject from a `sobjects/X/describe` response body."""
    fields = tuple(
        Field(
            name=item["name"],
            type=item["type"],
            label=item.get("label", ""),
            length=int(item.get("length") or 0),
            precision=int(item.get("precision") or 0),
            scale=int(item.get("scale") or 0),
            nillable=bool(item.get("nillable", True)),
            calculated=bool(item.get("calculated", False)),
            compound_field_name=item.get("compoundFieldName"),
            reference_to=tuple(item.get("referenceTo") or ()),
        )
        for item in body["fields"]
    )
    return SObject(
        name=body["name"],
        fields=fields,
        queryable=bool(body.get("queryable", True)),
        replicateable=bool(body.get("replicateable", True)),
        last_modified=last_modified,
    )


def describe_sobject(
    client: OrgClient, name: str, *, cached: dict | None = None, modified: str | None = None
) -> tuple[SObject, dict]:
    """The describe of object `name` and its body, asking If-Modified-Since when a cached body is given.

    Salesforce answers 304 Not Modified when nothing changed since `modified`; the cached body
    serves then, which spares transferring a large describe on every run.
    """
    headers = {"If-Modified-Since": modified} if cached is not None and modified else {}
    try:
        body, response = client.request_json(f"describe {name}", "GET", f"sobjects/{name}/describe", headers=headers)
    except NotModified:
        assert cached is not None  # If-Modified-Since is only sent with a cached body
        return parse_describe(cached, modified), cached
    return parse_describe(body, response.headers.get("Last-Modified")), body


def selectable_fields(sobject: SObject, wanted: tuple[str, ...] | None) -> tuple[tuple[Field, ...], tuple[str, ...]]:
    """(fields to select, wanted names the org does not have): system fields first, then the mapping's.

    `wanted` None means every field. Compound parents (address, location) are never selected:
    their components are ordinary fields.
    """
    by_name = {field.name.lower(): field for field in sobject.fields}
    chosen: list[Field] = [by_name[name.lower()] for name in SYSTEM_FIELDS if name.lower() in by_name]
    missing: list[str] = []
    names = [field.name for field in sobject.fields] if wanted is None else list(wanted)
    for name in names:
        field = by_name.get(name.lower())
        if field is None:
            missing.append(name)
        elif field.type not in ("address", "location") and field not in chosen:
            chosen.append(field)
    return tuple(chosen), tuple(missing)
