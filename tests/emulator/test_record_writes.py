"""REST record writes as Salesforce documents them: empty strings are null, deletes are not repeatable."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound


def test_an_empty_string_is_stored_as_null_and_leaves_a_required_field_missing(sf):
    record_id = sf.Contact.create({"LastName": "A", "Email": "a@example.com"})["id"]
    sf.Contact.update(record_id, {"Email": ""})
    assert sf.Contact.get(record_id)["Email"] is None
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.update(record_id, {"LastName": ""})
    assert caught.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_a_second_delete_is_entity_is_deleted(sf):
    record_id = sf.Contact.create({"LastName": "A"})["id"]
    sf.Contact.delete(record_id)
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Contact.delete(record_id)
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
