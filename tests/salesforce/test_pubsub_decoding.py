"""Decoding change events: the field bitmaps, compound sub-fields, value formats and channel names."""

from __future__ import annotations

import pytest

from app.salesforce.pubsub import component_field, decode_bitmap, rest_value, topic_for

SCHEMA = {
    "fields": [
        {"name": "ChangeEventHeader"},
        {"name": "Name"},
        {"name": "Phone"},
        {
            "name": "BillingAddress",
            "type": ["null", {"type": "record", "fields": [{"name": "Street"}, {"name": "City"}]}],
        },
        {"name": "Industry"},
        *({"name": f"F{index}"} for index in range(5, 12)),
    ]
}


@pytest.mark.parametrize(
    ("bitmaps", "names"),
    [
        ([], []),
        (["0x02"], ["Name"]),
        (["0x16"], ["Name", "Phone", "Industry"]),  # bits 1, 2, 4
        (["0x0800"], ["F11"]),
        (["0x08", "3-0x02"], ["BillingAddress", "BillingAddress.City"]),
        (["0x00", "3-0x03"], ["BillingAddress.Street", "BillingAddress.City"]),
    ],
)
def test_bitmaps_name_fields_by_schema_position_least_significant_bit_first(bitmaps, names) -> None:
    assert decode_bitmap(bitmaps, SCHEMA) == names


@pytest.mark.parametrize(
    ("parent", "sub", "field"),
    [
        ("BillingAddress", "Street", "BillingStreet"),
        ("Name", "FirstName", "FirstName"),
        ("Spot__c", "Latitude", "Spot__Latitude__s"),
    ],
)
def test_compound_sub_fields_map_to_their_component_fields(parent, sub, field) -> None:
    assert component_field(parent, sub) == field


@pytest.mark.parametrize(
    ("kind", "value", "rest"),
    [
        ("datetime", 1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
        ("date", 19_000, "2022-01-08"),
        ("time", 3_723_004, "01:02:03.004Z"),
        ("currency", 1234.56, "1234.56"),
        ("string", "x", "x"),
        ("boolean", False, False),
        ("string", None, None),
    ],
)
def test_avro_values_become_rest_values(kind, value, rest) -> None:
    assert rest_value(kind, value) == rest


@pytest.mark.parametrize(
    ("sobject", "topic"),
    [
        ("Account", "/data/AccountChangeEvent"),
        ("Employee", "/data/EmployeeChangeEvent"),
        ("Shoe__c", "/data/Shoe__ChangeEvent"),
    ],
)
def test_change_channels_follow_salesforce_names(sobject, topic) -> None:
    assert topic_for(sobject) == topic
