"""The service document and the metadata document (CSDL XML 4.0, CSDL JSON 4.01) for a feed's entity sets.

Pure functions: entity sets in, bytes or dicts out. The schema is read-only and says so with
Capabilities annotations (clients such as the NLstn compliance suite read them).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from app.odata.catalog import EntitySet

NAMESPACE = "orgfeed"
CONTAINER = "Container"
CAPABILITIES = "Org.OData.Capabilities.V1"
CAPABILITIES_URI = "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml"
# (term, property): the entity sets are read-only; the XML and the JSON are written from this one list.
READ_ONLY_TERMS = (
    ("InsertRestrictions", "Insertable"),
    ("UpdateRestrictions", "Updatable"),
    ("DeleteRestrictions", "Deletable"),
)
_READ_ONLY_ANNOTATIONS = "".join(
    f'<Annotation Term="{CAPABILITIES}.{term}"><Record>'
    f'<PropertyValue Property="{prop}" Bool="false"/></Record></Annotation>'
    for term, prop in READ_ONLY_TERMS
)


def render_service_document(sets: Sequence[EntitySet], service_root: str) -> dict:
    """The JSON service document: one EntitySet entry per set (OData JSON Format §5)."""
    return {
        "@odata.context": f"{service_root}$metadata",
        "value": [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in sets],
    }


def render_csdl_xml(sets: Sequence[EntitySet]) -> bytes:
    """$metadata as CSDL XML 4.0: an EntityType (Key `id`) and an EntitySet per view."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        f'<edmx:Reference Uri="{CAPABILITIES_URI}">',
        f'<edmx:Include Namespace="{CAPABILITIES}"/></edmx:Reference>',
        f'<edmx:DataServices><Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    for entity_set in sets:
        parts.append(f"<EntityType Name={quoteattr(entity_set.name)}>")
        parts.append(f"<Key><PropertyRef Name={quoteattr(entity_set.key.property)}/></Key>")
        for column in entity_set.columns:
            facets = "".join(f" {name}={quoteattr(str(value))}" for name, value in _facets(column).items())
            parts.append(f"<Property Name={quoteattr(column.property)} Type={quoteattr(column.edm_type)}{facets}/>")
        parts.append("</EntityType>")
    parts.append(f'<EntityContainer Name="{CONTAINER}">')
    for entity_set in sets:
        parts.append(
            f"<EntitySet Name={quoteattr(entity_set.name)} EntityType={quoteattr(NAMESPACE + '.' + entity_set.name)}>"
        )
        parts.append(_READ_ONLY_ANNOTATIONS)
        parts.append("</EntitySet>")
    parts.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>\n")
    return "".join(parts).encode()


def render_csdl_json(sets: Sequence[EntitySet]) -> dict:
    """$metadata as CSDL JSON (OData CSDL JSON 4.01), the same model as the XML."""
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
            entity_type[column.property] = prop
        schema[entity_set.name] = entity_type
    read_only = {f"@{CAPABILITIES}.{term}": {prop: False} for term, prop in READ_ONLY_TERMS}
    schema[CONTAINER] = {
        "$Kind": "EntityContainer",
        **{s.name: {"$Collection": True, "$Type": f"{NAMESPACE}.{s.name}", **read_only} for s in sets},
    }
    return {
        "$Version": "4.01",
        "$Reference": {CAPABILITIES_URI: {"$Include": [{"$Namespace": CAPABILITIES}]}},
        "$EntityContainer": f"{NAMESPACE}.{CONTAINER}",
        NAMESPACE: schema,
    }


def _facets(column) -> dict:
    facets: dict = {"Nullable": "true" if column.nullable else "false"}
    if column.max_length is not None:
        facets["MaxLength"] = column.max_length
    if column.precision is not None:
        facets["Precision"] = column.precision
    if column.scale is not None:
        facets["Scale"] = column.scale
    return facets
