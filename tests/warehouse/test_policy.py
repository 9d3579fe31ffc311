"""Field policies on CSV documents before they reach PostgreSQL: hashing, redaction, streaming edge cases (pure)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io

import pytest

from app.warehouse import WarehouseError
from app.warehouse.policy import FieldPolicy, mapping_policy

KEY = "k" * 32
TYPES = {"Id": "id", "Email": "email", "Phone": "phone", "Name": "string", "Notes": "textarea"}


def digest(value: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def policy(hashed=("Email",), redacted=("Phone",), key=KEY) -> FieldPolicy:
    return FieldPolicy.build(hashed, redacted, field_types=TYPES, key=key)


def rows_of(chunks) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode())))


DOCUMENT = (
    b'Id,Email,Phone,Name,Notes\n001A,Ann@Example.COM ,+1 415 555,Ann,"two\nlines, with ""quotes"""\n001B,,,Bob,\n'
)


def test_hashed_email_is_lower_cased_and_trimmed_and_redacted_is_empty():
    assert rows_of(policy().protect_csv([DOCUMENT])) == [
        ["Id", "Email", "Phone", "Name", "Notes"],
        ["001A", digest("ann@example.com"), "", "Ann", 'two\nlines, with "quotes"'],
        ["001B", "", "", "Bob", ""],
    ]


def test_a_document_split_anywhere_gives_the_same_rows():
    expected = rows_of(policy().protect_csv([DOCUMENT]))
    for size in (1, 2, 7, 30):
        chunks = [DOCUMENT[i : i + size] for i in range(0, len(DOCUMENT), size)]
        assert rows_of(policy().protect_csv(chunks)) == expected


def test_header_names_match_in_any_case_and_a_bom_is_dropped():
    protected = rows_of(policy(hashed=("email",), redacted=()).protect_csv([b"\xef\xbb\xbfID,EMAIL\n001A,a@b.c\n"]))
    assert protected == [["ID", "EMAIL"], ["001A", digest("a@b.c")]]


def test_a_string_field_is_hashed_as_it_is():
    assert policy(hashed=("Name",), redacted=()).protect_value("Name", " Ann ") == digest(" Ann ")


def test_equal_inputs_hash_equal_and_another_key_hashes_differently():
    one, other = policy(), policy(key="x" * 32)
    assert one.protect_value("Email", "A@B.C") == policy().protect_value("email", " a@b.c")
    assert one.protect_value("Email", "a@b.c") != other.protect_value("Email", "a@b.c")


def test_an_empty_policy_passes_the_chunks_through_untouched():
    chunks = [b"Id,Email\n", b"001A,a@b.c\n"]
    assert list(FieldPolicy().protect_csv(chunks)) == chunks


def test_the_fingerprint_changes_with_the_fields_and_the_key_but_does_not_reveal_the_key():
    base = policy().fingerprint()
    assert base != policy(redacted=("Phone", "Name")).fingerprint()
    assert base != policy(key="x" * 32).fingerprint()
    assert KEY not in base
    assert policy(hashed=("EMAIL",), redacted=("phone",)).fingerprint() == base
    assert FieldPolicy().fingerprint() == ""


def test_a_policy_naming_a_field_the_mapping_does_not_select_is_refused():
    with pytest.raises(WarehouseError) as caught:
        mapping_policy(["Email", "Salary"], [], TYPES, KEY, where="org 'amer', object Contact")
    assert str(caught.value) == (
        "org 'amer', object Contact: the field policy names Salary, which the mapping does not select "
        "(not in its fields, or not in the describe): fix `hash`/`redact` in orgfeed.toml"
    )


def test_a_hash_policy_without_a_key_is_refused():
    with pytest.raises(WarehouseError, match="no hash key is set"):
        mapping_policy(["Email"], [], TYPES, None, where="org 'amer', object Contact")
