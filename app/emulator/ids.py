"""Salesforce record ids: 15-character ids, their case-safe 18-character form, and key prefixes."""

from __future__ import annotations

# The suffix alphabet of the case-safe id algorithm (Salesforce Knowledge "What are Salesforce
# IDs composed of?"): each 5-character chunk gives 5 bits, one per upper-case letter.
_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

# Key prefixes: Account, Contact and User are Salesforce's; the Work.com prefixes are plausible
# three-character prefixes chosen here (their real values are not published in the API docs).
KEY_PREFIXES = {
    "Organization": "00D",
    "User": "005",
    "Account": "001",
    "Contact": "003",
    "Employee": "0hE",
    "EmployeeCrisisAssessment": "0hC",
    "Crisis": "0hF",
    "Location": "131",
    "Individual": "0PK",
    "AsyncQueryJob": "750",
    "BulkBatch": "751",
    "BulkResult": "752",
    "QueryLocator": "01g",
}


def case_safe_id(id15: str) -> str:
    """Return the 18-character case-safe form of a 15-character id."""
    if len(id15) != 15:
        raise ValueError(f"a Salesforce id has 15 characters, got {id15!r}")
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_CHARS[bits])
    return id15 + "".join(suffix)


def is_case_safe(id18: str) -> bool:
    """Return whether an 18-character id carries the right checksum suffix."""
    return len(id18) == 18 and case_safe_id(id18[:15]) == id18


def record_id_format(key_prefix: str, pod: str) -> str:
    """Return a `str.format` template turning a record number (0 <= n < 10**9) into an 18-char id.

    The number fills the last nine characters with digits only, so the checksum suffix depends
    on the key prefix and pod alone: one template serves every record of an object in an org.
    """
    head = f"{key_prefix}{pod}0"
    suffix = case_safe_id(head + "0" * 9)[15:]
    return head + "{:09d}" + suffix


def record_number(id_value: str, id_format: str) -> int | None:
    """Return the record number encoded in an id made by `record_id_format`, or None if it is not one."""
    if len(id_value) == 15:
        id_value = case_safe_id(id_value) if id_value.isalnum() else id_value
    if len(id_value) != 18 or not id_value[6:15].isdigit():
        return None
    number = int(id_value[6:15])
    return number if id_format.format(number) == id_value else None
