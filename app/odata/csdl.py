"""The service document and the metadata document (CSDL XML 4.0, CSDL JSON 4.01) for a feed's entity sets.

Pure functions: entity sets in, bytes or dicts out. Each set says whether writes may change it with
Capabilities annotations (clients such as the NLstn compliance suite read them); in a writable set
the properties no write may set are `Core.Computed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

from app.odata.catalog import Column, EntitySet

NAMESPACE = "orgfeed"
CONTAINER = "Container"
CAPABILITIES = "Org.OData.Capabilities.V1"
CORE = "Org.OData.Core.V1"
CAPABILITIES_URI = "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml"
CORE_URI = "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml"
# (term, property) of each entity set's restrictions: the XML and the JSON are written from this one list.
_RESTRICTIONS = (
    ("InsertRestrictions", "Insertable"),
    ("UpdateRestrictions", "Updatable"),
    ("DeleteRestrictions", "Deletable"),
)


def _restrictions_xml(allowed: bool) -> str:
    value = "true" if allowed else "false"
    return "".join(
        f'<Annotation Term="{CAPABILITIES}.{term}"><Record><PropertyValue Property="{prop}" Bool="{value}"/>'
        "</Record></Annotation>"
        for term, prop in _RESTRICTIONS
    )


def render_service_document(sets: Sequence[EntitySet], service_root: str) -> dict:
    """The JSON service document: one EntitySet entry per set (OData JSON Format §5)."""
    return {
        "@odata.context": f"{service_root}$metadata",
        "value": [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in sets],
    }


def render_csdl_xml(sets: Sequence[EntitySet], writable: Mapping[str, Mapping[str, str]] | None = None) -> bytes:
    """$metadata as CSDL XML 4.0: an EntityType (Key `id`) and an EntitySet per view.

    `writable`: for the sets writes may change, entity set name -> {read-only property: its Core term}
    (`Computed`: never set by a client; `Immutable`: set on insert only, as `geo`).
    """
    writable = writable or {}
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        f'<edmx:Reference Uri="{CAPABILITIES_URI}">',
        f'<edmx:Include Namespace="{CAPABILITIES}"/></edmx:Reference>',
        f'<edmx:Reference Uri="{CORE_URI}">',
        f'<edmx:Include Namespace="{CORE}"/></edmx:Reference>',
        f'<edmx:DataServices><Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    for entity_set in sets:
        parts.append(f"<EntityType Name={quoteattr(entity_set.name)}>")
        parts.append(f"<Key><PropertyRef Name={quoteattr(entity_set.key.property)}/></Key>")
        for column in entity_set.columns:
            facets = "".join(f" {name}={quoteattr(str(value))}" for name, value in _facets(column).items())
            head = f"<Property Name={quoteattr(column.property)} Type={quoteattr(column.edm_type)}{facets}"
            term = writable.get(entity_set.name, {}).get(column.property)
            if term:
                parts.append(f'{head}><Annotation Term="{CORE}.{term}" Bool="true"/></Property>')
            else:
                parts.append(head + "/>")
        parts.append("</EntityType>")
    parts.append(f'<EntityContainer Name="{CONTAINER}">')
    for entity_set in sets:
        parts.append(
            f"<EntitySet Name={quoteattr(entity_set.name)} EntityType={quoteattr(NAMESPACE + '.' + entity_set.name)}>"
        )
        parts.append(_restrictions_xml(entity_set.name in writable))
        parts.append("</EntitySet>")
    parts.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>\n")
    return "".join(parts).encode()


def render_csdl_json(sets: Sequence[EntitySet], writable: Mapping[str, Mapping[str, str]] | None = None) -> dict:
    """$metadata as CSDL JSON (OData CSDL JSON 4.01), the same model and annotations as the XML."""
    writable = writable or {}
    schema: dict = {}
    for entity_set in sets:
        entity_type: dict = {"$Kind": "EntityType", "$Key": [entity_set.key.property]}
        for column in entity_set.columns:
            prop: dict = {}
            if column.edm_type != "Edm.String":
                prop["$Type"] = column.edm_type
            for name, value in _facets(column).items():
                if name == "Nullable":
                    if value == "true":  # in CSDL JSON an absent $Nullable means false
                        prop["$Nullable"] = True
                else:
                    prop[f"${name}"] = value
            term = writable.get(entity_set.name, {}).get(column.property)
            if term:
                prop[f"@{CORE}.{term}"] = True
            entity_type[column.property] = prop
        schema[entity_set.name] = entity_type
    schema[CONTAINER] = {
        "$Kind": "EntityContainer",
        **{
            s.name: {
                "$Collection": True,
                "$Type": f"{NAMESPACE}.{s.name}",
                **{f"@{CAPABILITIES}.{term}": {prop: s.name in writable} for term, prop in _RESTRICTIONS},
            }
            for s in sets
        },
    }
    return {
        "$Version": "4.01",
        "$Reference": {
            CAPABILITIES_URI: {"$Include": [{"$Namespace": CAPABILITIES}]},
            CORE_URI: {"$Include": [{"$Namespace": CORE}]},
        },
        "$EntityContainer": f"{NAMESPACE}.{CONTAINER}",
        NAMESPACE: schema,
    }


def _facets(column: Column) -> dict[str, Any]:
    facets: dict[str, Any] = {"Nullable": "true" if column.nullable else "false"}
    if column.max_length is not None:
        facets["MaxLength"] = column.max_length
    if column.precision is not None:
        facets["Precision"] = column.precision
    if column.scale is not None:
        facets["Scale"] = column.scale
    return facets
