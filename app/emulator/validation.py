"""Validation rules: a write through the REST API whose resulting record matches a rule is refused.

A rule stands for Salesforce's error condition formula `Field = value` (`value` null: the field is
blank). A match answers 400 FIELD_CUSTOM_VALIDATION_EXCEPTION with the rule's message, naming the
field (as a rule whose error shows at the field does). Control API writes (trusted) skip them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.emulator.errors import SalesforceError


@dataclass(frozen=True)
class ValidationRule:
    field: str
    equals: object  # the value that makes the record invalid; None: blank
    message: str = "The record does not pass a validation rule."

    def violated_by(self, value: object) -> bool:
        if self.equals is None:
            return value is None or value == ""
        return value is not None and str(value) == str(self.equals)


def check_rules(rules: Sequence[ValidationRule], value_of: Callable[[str], object]) -> None:
    """Raises FIELD_CUSTOM_VALIDATION_EXCEPTION for the first rule the record (`value_of(field)`) violates."""
    for rule in rules:
        if rule.violated_by(value_of(rule.field)):
            raise SalesforceError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, [rule.field])
