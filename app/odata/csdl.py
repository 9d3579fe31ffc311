"""The service document and the metadata document (CSDL XML 4.0, CSDL JSON 4.01) for a feed's entity sets.

Pure functions: entity sets in, bytes or dicts out. The schema is read-only and says so with
Capabilities annotations (clients such as the NLstn compliance suite read them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import quoteattr

from app.odata.catalog import Column, EntitySet

NAMESPACE = "orgfeed"
CONTAINER = "Container"
_READ_ONLY_ANNOTATIONS = (
    '<Annotation Term="Org.OData.Capabilities.V1.InsertRestrictions"><Record>'
    '<PropertyValue Property="Insertable" Bool="false"/></Record></Annotation>'
    '<Annotation Term="Org.OData.Capabilities.V1.UpdateRestrictions"><Record>'
    '<PropertyValue Property="Updatable" Bool="false"/></Record></Annotation>'
    '<Annotation Term="Org.OData.Capabilities.V1.DeleteRestrictions"><Record>'
    '<PropertyValue Property="Deletable" Bool="false"/></Record></Annotation>'
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
        '<edmx:Reference Uri="https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml">',
        '<edmx:Include Namespace="Org.OData.Capabilities.V1"/></edmx:Reference>',
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
    schema[CONTAINER] = {
        "$Kind": "EntityContainer",
        **{s.name: {"$Collection": True, "$Type": f"{NAMESPACE}.{s.name}"} for s in sets},
    }
    return {"$Version": "4.01", "$EntityContainer": f"{NAMESPACE}.{CONTAINER}", NAMESPACE: schema}


def _facets(column: Column) -> dict[str, Any]:
    facets: dict[str, Any] = {"Nullable": "true" if column.nullable else "false"}
    if column.max_length is not None:
        facets["MaxLength"] = column.max_length
    if column.precision is not None:
        facets["Precision"] = column.precision
    if column.scale is not None:
        facets["Scale"] = column.scale
    return facets
