"""The service document and $metadata: generated from the database, facets from the column types."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from app.odata.catalog import api_name
from app.odata.csdl import CAPABILITIES_URI, CORE_URI
from tests.support.feeds import FeedClient

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def properties(client: FeedClient, entity_type: str) -> dict[str, dict[str, str]]:
    response = client.get("$metadata")
    assert response.status_code == 200
    assert response.content_type == "application/xml"
    root = ET.fromstring(response.data)
    element = next(e for e in root.iter(f"{EDM}EntityType") if e.get("Name") == entity_type)
    assert [ref.get("Name") for ref in element.iter(f"{EDM}PropertyRef")] == ["id"]
    return {p.get("Name"): {k: v for k, v in p.attrib.items() if k != "Name"} for p in element.iter(f"{EDM}Property")}


def test_metadata_types_and_facets_come_from_the_columns(client):
    assert properties(client, "people") == {
        "id": {"Type": "Edm.String", "Nullable": "false", "MaxLength": "18"},
        "geo": {"Type": "Edm.String", "Nullable": "true", "MaxLength": "10"},
        "lastname": {"Type": "Edm.String", "Nullable": "true", "MaxLength": "80"},
        "firstname": {"Type": "Edm.String", "Nullable": "true", "MaxLength": "40"},
        "email": {"Type": "Edm.String", "Nullable": "true", "MaxLength": "80"},
        "amount": {"Type": "Edm.Decimal", "Nullable": "true", "Precision": "12", "Scale": "2"},
        "score": {"Type": "Edm.Double", "Nullable": "true"},
        "headcount": {"Type": "Edm.Int32", "Nullable": "true"},
        "big": {"Type": "Edm.Int64", "Nullable": "true"},
        "active": {"Type": "Edm.Boolean", "Nullable": "true"},
        "born": {"Type": "Edm.Date", "Nullable": "true"},
        "updated": {"Type": "Edm.DateTimeOffset", "Nullable": "true", "Precision": "6"},
        "wake": {"Type": "Edm.TimeOfDay", "Nullable": "true", "Precision": "6"},
        "uid": {"Type": "Edm.Guid", "Nullable": "true"},
        "notes": {"Type": "Edm.String", "Nullable": "true", "MaxLength": "131072"},
        "allowedvalue": {"Type": "Edm.String", "Nullable": "true", "MaxLength": "10"},
        "wellness_c": {"Type": "Edm.String", "Nullable": "true", "MaxLength": "20"},
        "tags": {"Type": "Edm.String", "Nullable": "true", "MaxLength": "131072"},
    }


def test_entity_sets_are_listed_in_the_container_and_the_service_document(client):
    root = ET.fromstring(client.get("$metadata").data)
    sets = [(e.get("Name"), e.get("EntityType")) for e in root.iter(f"{EDM}EntitySet")]
    assert sets == [("people", "orgfeed.people"), ("big", "orgfeed.big")]
    document = client.json("")
    assert document == {
        "@odata.context": f"http://localhost/odata/v4/{client.credential.feed}/$metadata",
        "value": [
            {"name": "people", "kind": "EntitySet", "url": "people"},
            {"name": "big", "kind": "EntitySet", "url": "big"},
        ],
    }
    assert client.client.get(f"/odata/v4/{client.credential.feed}", headers=client.headers).get_json() == document


@pytest.mark.parametrize(
    "how",
    [
        {"query_string": "$format=json"},
        {"query_string": "format=application/json"},
        {"headers": {"Accept": "application/json"}},
    ],
)
def test_csdl_json_when_asked_for(client, how):
    response = client.get("$metadata", **how)
    assert response.content_type == "application/json"
    document = response.get_json()
    assert document["$EntityContainer"] == "orgfeed.Container"
    assert document["orgfeed"]["people"]["$Key"] == ["id"]
    assert document["orgfeed"]["people"]["id"] == {"$MaxLength": 18}
    assert document["orgfeed"]["people"]["amount"] == {
        "$Type": "Edm.Decimal",
        "$Precision": 12,
        "$Scale": 2,
        "$Nullable": True,
    }


def test_xml_for_python_odata_and_browsers(client):
    for accept in ("*/*", "application/xml", "application/json, application/xml"):
        assert client.get("$metadata", headers={"Accept": accept}).content_type == "application/xml"


def test_a_view_that_does_not_exist_yet_is_absent_not_an_error(flask_app, feed_factory):
    credential = feed_factory(["people", "not_generated_yet"])
    client = FeedClient(flask_app, credential)
    assert [s["name"] for s in client.json("")["value"]] == ["people"]
    assert client.get("not_generated_yet").status_code == 404


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wellness__c", "wellness_c"),
        ("global_assessment", "global_assessment"),
        ("2fa", "x2fa"),
        ("_hc_lastop", "hc_lastop"),
        ("a--b", "a_b"),
        ("__", "x"),
        ("a" * 63, "a" * 40),
        ("b" * 39 + "_c", "b" * 39),
    ],
)
def test_names_are_valid_salesforce_api_names(name, expected):
    assert api_name(name) == expected


def test_colliding_names_get_numbered_within_forty_characters():
    from app.odata.catalog import _columns

    names = [
        column.property
        for column in _columns(
            [
                ("id", "text", -1, True),
                ("Wellness__c", "text", -1, False),
                ("wellness_c", "text", -1, False),
                ("x" * 50, "text", -1, False),
                ("x" * 45, "text", -1, False),
            ]
        )
    ]
    assert names == ["id", "Wellness_c", "wellness_c_2", "x" * 40, "x" * 38 + "_2"]


def test_csdl_json_and_xml_describe_the_same_model(client):
    """References, entity types with their facets, entity sets and their Capabilities annotations."""
    ns = {"edmx": "http://docs.oasis-open.org/odata/ns/edmx", "edm": "http://docs.oasis-open.org/odata/ns/edm"}
    xml = ET.fromstring(client.get("$metadata").get_data())
    document = client.get("$metadata?$format=json").get_json()

    xml_references = {
        reference.get("Uri"): [include.get("Namespace") for include in reference.findall("edmx:Include", ns)]
        for reference in xml.findall("edmx:Reference", ns)
    }
    json_references = {
        uri: [include["$Namespace"] for include in reference["$Include"]]
        for uri, reference in document["$Reference"].items()
    }
    assert (
        json_references
        == xml_references
        == {
            CAPABILITIES_URI: ["Org.OData.Capabilities.V1"],
            CORE_URI: ["Org.OData.Core.V1"],
        }
    )

    schema = xml.find("edmx:DataServices/edm:Schema", ns)
    for entity_type in schema.findall("edm:EntityType", ns):
        described = document["orgfeed"][entity_type.get("Name")]
        assert described["$Key"] == [ref.get("Name") for ref in entity_type.findall("edm:Key/edm:PropertyRef", ns)]
        for prop in entity_type.findall("edm:Property", ns):
            facets = described[prop.get("Name")]
            assert facets.get("$Type", "Edm.String") == prop.get("Type")
            assert facets.get("$Nullable", False) == (prop.get("Nullable") == "true")
            for facet in ("MaxLength", "Precision", "Scale"):
                assert str(facets.get(f"${facet}")) == str(prop.get(facet)), (prop.get("Name"), facet)

    container = document["orgfeed"]["Container"]
    for entity_set in schema.findall("edm:EntityContainer/edm:EntitySet", ns):
        annotations = {
            "@" + annotation.get("Term"): {
                value.get("Property"): value.get("Bool") == "true"
                for value in annotation.findall(".//edm:PropertyValue", ns)
            }
            for annotation in entity_set.findall("edm:Annotation", ns)
        }
        described = container[entity_set.get("Name")]
        assert described["$Type"] == entity_set.get("EntityType")
        assert {key: value for key, value in described.items() if key.startswith("@")} == annotations
        assert annotations["@Org.OData.Capabilities.V1.InsertRestrictions"] == {"Insertable": False}
