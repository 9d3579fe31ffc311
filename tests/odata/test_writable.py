"""What a write may set and how OData JSON values become Salesforce field values (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ColumnConfig, DatabaseSettings, JoinConfig, OrgConfig, Settings, ViewConfig
from app.odata import BadQuery
from app.odata.catalog import EntitySet, column_for
from app.odata.csdl import render_csdl_json, render_csdl_xml
from app.odata.writable import field_values, read_only_properties, to_salesforce, write_targets

ORGS = (
    OrgConfig(name="amer", geo="AMER"),
    OrgConfig(name="emea", geo="EMEA"),
    OrgConfig(name="apac", geo="APAC", managed_by="heroku_connect"),
)
CONTACT_VIEW = ViewConfig(
    name="global_contact",
    object="Contact",
    joins=(JoinConfig(lookup="AccountId", object="Account"),),
    columns=(ColumnConfig("Account.Industry", "industry"), ColumnConfig("LastName"), ColumnConfig("Email", "mail")),
)
SETTINGS = Settings(
    config_path=Path("orgfeed.toml"),
    database=DatabaseSettings(url=None, data_dir=Path("/nonexistent")),
    orgs=ORGS,
    views=(
        CONTACT_VIEW,
        ViewConfig(name="every_account", object="Account", id_strategy="geo_prefixed"),
        ViewConfig(name="snapshot", object="Account", materialized=True),
    ),
)
CONTACTS = EntitySet(
    name="global_contact",
    view="global_contact",
    columns=(
        column_for("id", "id", "varchar", 22, True),
        column_for("geo", "geo", "varchar", 8, True),
        column_for("industry", "industry", "varchar", 259, False),
        column_for("lastname", "lastname", "varchar", 84, False),
        column_for("mail", "mail", "varchar", 84, False),
    ),
)


def column(typname: str, typmod: int = -1):
    return column_for("c", "c", typname, typmod, False)


def test_plain_views_are_writable_materialized_views_are_not():
    targets = write_targets(SETTINGS)
    assert sorted(targets) == ["every_account", "global_contact"]
    assert sorted(targets["global_contact"].orgs) == ["AMER", "EMEA"]  # a Heroku Connect schema is not written


def test_columns_map_back_to_base_object_fields_and_the_rest_is_read_only():
    target = write_targets(SETTINGS)["global_contact"]
    assert [target.field_of(name) for name in ("id", "geo", "industry", "lastname", "mail")] == [
        None,
        None,
        None,
        "LastName",
        "Email",
    ]
    assert read_only_properties(CONTACTS, target) == {"id": "Computed", "geo": "Immutable", "industry": "Computed"}


def test_a_star_view_writes_every_column_but_the_system_ones():
    target = write_targets(SETTINGS)["every_account"]
    assert target.field_of("industry") == "industry" and target.field_of("systemmodstamp") is None
    assert target.record_id("EMEA-001000000000001AAA", "EMEA") == "001000000000001AAA"
    assert target.key_of("001000000000001AAA", "EMEA") == "EMEA-001000000000001AAA"


def test_body_becomes_field_values_ignoring_annotations():
    target = write_targets(SETTINGS)["global_contact"]
    body = {"@odata.type": "#orgfeed.global_contact", "LastName": "Lovelace", "mail@odata.type": "String", "mail": None}
    assert field_values(CONTACTS, target, body) == {"LastName": "Lovelace", "Email": None}


def test_an_unchanged_read_only_value_is_accepted_a_changed_one_is_400():
    target = write_targets(SETTINGS)["global_contact"]
    current = {"id": "003A", "geo": "AMER", "industry": "Banking", "lastname": "X", "mail": None}
    edit = {"id": "003A", "geo": "AMER", "industry": "Banking", "lastname": "Y"}
    assert field_values(CONTACTS, target, edit, current=current) == {"LastName": "Y"}
    with pytest.raises(BadQuery) as caught:
        field_values(CONTACTS, target, {**edit, "industry": "Energy"}, current=current)
    assert caught.value.target == "industry"


def test_put_clears_the_writable_columns_it_leaves_out():
    target = write_targets(SETTINGS)["global_contact"]
    values = field_values(CONTACTS, target, {"lastname": "Y"}, current={"lastname": "X"}, replace=True)
    assert values == {"LastName": "Y", "Email": None}


def test_unknown_property_is_400():
    with pytest.raises(BadQuery, match="no property 'shoe'"):
        field_values(CONTACTS, write_targets(SETTINGS)["global_contact"], {"shoe": 1})


@pytest.mark.parametrize(
    ("typname", "typmod", "value", "expected"),
    [
        ("varchar", 14, "abc", "abc"),
        ("bool", -1, True, True),
        ("int4", -1, 7, 7),
        ("int8", -1, "9007199254740993", 9007199254740993),  # IEEE754Compatible clients send strings
        ("numeric", (18 << 16 | 2) + 4, 12.5, 12.5),
        ("numeric", (18 << 16 | 2) + 4, "1234.56", 1234.56),
        ("numeric", (18 << 16 | 0) + 4, 42, 42),
        ("date", -1, "2024-01-31", "2024-01-31"),
        ("date", -1, "2024-01-31T00:00:00Z", "2024-01-31"),  # Salesforce Connect's Edm.Date as a DateTime
        ("timestamptz", -1, "2024-01-31T09:30:00Z", "2024-01-31T09:30:00.000+00:00"),
        ("time", -1, "09:30", "09:30:00.000Z"),
        ("varchar", 14, None, None),
    ],
)
def test_values_convert_from_odata_json(typname, typmod, value, expected):
    assert to_salesforce(column(typname, typmod), value) == expected


@pytest.mark.parametrize(
    ("typname", "typmod", "value"),
    [
        ("varchar", 7, "too long"),
        ("varchar", 14, 5),
        ("bool", -1, "true"),
        ("int4", -1, 1.5),
        ("numeric", (18 << 16 | 2) + 4, "1.234"),
        ("numeric", (18 << 16 | 2) + 4, "NaN"),
        ("date", -1, "2024-01-31T09:00:00Z"),
        ("date", -1, "2024-02-30"),
        ("timestamptz", -1, "2024-01-31T09:30:00"),
        ("time", -1, "9h30"),
        ("bytea", -1, "AAAA"),
    ],
)
def test_values_that_do_not_fit_are_400_naming_the_property(typname, typmod, value):
    with pytest.raises(BadQuery) as caught:
        to_salesforce(column(typname, typmod), value)
    assert caught.value.target == "c"


def test_metadata_annotates_writable_sets_and_their_read_only_properties():
    read_only = {"global_contact": read_only_properties(CONTACTS, write_targets(SETTINGS)["global_contact"])}
    xml = render_csdl_xml([CONTACTS], read_only).decode()
    assert '<PropertyValue Property="Updatable" Bool="true"/>' in xml
    assert (
        '<Property Name="industry" Type="Edm.String" Nullable="true" MaxLength="255">'
        '<Annotation Term="Org.OData.Core.V1.Computed" Bool="true"/></Property>'
    ) in xml
    assert '<Annotation Term="Org.OData.Core.V1.Immutable" Bool="true"/>' in xml
    assert '<Property Name="lastname" Type="Edm.String" Nullable="true" MaxLength="80"/>' in xml
    document = render_csdl_json([CONTACTS], read_only)["orgfeed"]
    assert document["global_contact"]["industry"]["@Org.OData.Core.V1.Computed"] is True
    assert document["Container"]["global_contact"]["@Org.OData.Capabilities.V1.InsertRestrictions"] == {
        "Insertable": True
    }
    assert '<PropertyValue Property="Updatable" Bool="false"/>' in render_csdl_xml([CONTACTS]).decode()
