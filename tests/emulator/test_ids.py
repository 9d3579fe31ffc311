"""Record and org ids: 15-character ids with the case-safe 18-character checksum suffix."""

from __future__ import annotations

import pytest

from app.emulator import Emulator, demo_orgs
from app.emulator.ids import case_safe_id, is_case_safe, record_id_format, record_number
from app.emulator.org import Org


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),  # Salesforce's documented example
        ("0015e00000ABCDE", "0015e00000ABCDEAA5"),
        ("003000000000000", "003000000000000AAA"),
        ("a0B5e00000zZzZz", "a0B5e00000zZzZzEAK"),
    ],
)
def test_case_safe_id_appends_the_checksum_of_upper_case_positions(id15: str, id18: str) -> None:
    assert case_safe_id(id15) == id18


def test_case_safe_id_rejects_ids_that_are_not_15_characters() -> None:
    with pytest.raises(ValueError, match="15 characters"):
        case_safe_id("001A")


def test_record_number_round_trips_through_the_id_format() -> None:
    template = record_id_format("0hE", "7X")
    record_id = template.format(4711)
    assert record_id == "0hE7X0000004711UAA"
    assert is_case_safe(record_id)
    assert record_number(record_id, template) == 4711
    assert record_number(record_id[:15], template) == 4711
    assert record_number("0015e0000004711AAA", template) is None


def test_org_ids_are_valid_18_character_ids_with_the_organization_prefix() -> None:
    amer, emea = (Org(spec) for spec in demo_orgs(rows=1))
    assert (amer.org_id[:3], emea.org_id[:3]) == ("00D", "00D")
    assert is_case_safe(amer.org_id) and is_case_safe(emea.org_id)
    assert amer.org_id != emea.org_id


def test_record_ids_carry_the_key_prefix_and_differ_between_orgs() -> None:
    emulator = Emulator(demo_orgs(rows=20))
    prefixes = {"Account": "001", "Contact": "003", "Employee": "0hE", "EmployeeCrisisAssessment": "0hC"}
    for sobject, prefix in prefixes.items():
        amer, emea = emulator.ids("amer", sobject), emulator.ids("emea", sobject)
        assert all(i.startswith(prefix) and is_case_safe(i) for i in amer + emea)
        assert not set(amer) & set(emea)
