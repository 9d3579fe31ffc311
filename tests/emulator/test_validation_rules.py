"""Validation rules injected through the control API fail REST writes as Salesforce does."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def test_a_rule_refuses_a_create_and_an_update_naming_its_field(emulator, sf):
    emulator.add_validation_rule("amer", "Contact", "email", "spam@example.com", "No spam")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"LastName": "A", "Email": "spam@example.com"})
    assert caught.value.content == [
        {"message": "No spam", "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Email"]}
    ]
    record_id = sf.Contact.create({"LastName": "A", "Email": "ok@example.com"})["id"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.update(record_id, {"Email": "spam@example.com"})
    assert sf.Contact.get(record_id)["Email"] == "ok@example.com"
    sf.Contact.update(record_id, {"LastName": "B"})  # the record stays valid: accepted


def test_a_blank_rule_and_clearing_the_rules(emulator, sf):
    emulator.add_validation_rule("amer", "Contact", "Email", None, "Email is required by a rule")
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.create({"LastName": "A"})
    emulator.clear_validation_rules()
    assert sf.Contact.create({"LastName": "A"})["success"] is True


def test_control_api_writes_skip_rules(emulator):
    emulator.add_validation_rule("amer", "Contact", "Email", None, "Email is required by a rule")
    assert len(emulator.insert("amer", "Contact", [{"LastName": "Seeded"}])) == 1
