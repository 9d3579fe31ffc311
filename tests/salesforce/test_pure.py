from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import OrgConfig
from app.salesforce import LoginFailed
from app.salesforce.auth import _ids_from_identity_url, _session_token, build_jwt_assertion
from app.salesforce.describe import parse_describe, selectable_fields
from app.salesforce.extract import records_to_csv
from app.salesforce.ids import to_18_char_id
from app.salesforce.soql import build_count, build_select, soql_datetime, soql_string


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        ("00D000000000062", "00D000000000062EAA"),  # "00D00": upper case at position 2 -> bit 4 -> E
        ("003ZZZZZZZZZZZZ", "003ZZZZZZZZZZZZY55"),  # bits 8+16 -> Y, then 31 -> 5 twice
    ],
)
def test_to_18_char_id_appends_the_case_checksum(short, full):
    assert to_18_char_id(short) == full


def test_to_18_char_id_keeps_18_and_rejects_other_lengths():
    assert to_18_char_id("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC"
    with pytest.raises(ValueError, match="is not a Salesforce id"):
        to_18_char_id("001A0000006Vm9")


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (datetime(2024, 5, 1, 12, 30, 15, 999000, tzinfo=UTC), "2024-05-01T12:30:15Z"),
        (datetime(2024, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T12:00:00Z"),
    ],
)
def test_soql_datetime_is_utc_rounded_down_to_the_second(value, literal):
    assert soql_datetime(value) == literal


def test_soql_datetime_refuses_naive_values():
    with pytest.raises(ValueError, match="timezone"):
        soql_datetime(datetime(2024, 5, 1))


def test_soql_string_escapes_quotes_and_backslashes():
    assert soql_string("O'Brien \\ co") == "'O\\'Brien \\\\ co'"


def test_build_select_variants():
    since = datetime(2024, 5, 1, tzinfo=UTC)
    assert build_select("Employee", ["Id", "Name"]) == "SELECT Id, Name FROM Employee"
    assert build_select("Employee", ["Id"], modified_since=since, order_by_modstamp=True) == (
        "SELECT Id FROM Employee WHERE SystemModstamp >= 2024-05-01T00:00:00Z ORDER BY SystemModstamp ASC"
    )
    assert (
        build_select("Contact", ["Id"], ids=["003A", "003B"]) == "SELECT Id FROM Contact WHERE Id IN ('003A', '003B')"
    )
    assert build_count("Account") == "SELECT COUNT() FROM Account"


def test_records_to_csv_writes_nulls_empty_and_keeps_decimal_digits():
    records = [
        {
            "attributes": {"type": "Account"},
            "Id": "001A",
            "Name": 'Acme, "Inc"',
            "IsDeleted": False,
            "AnnualRevenue": Decimal("12345678901234.56"),
            "Description": None,
        },
        {"Id": "001B", "Name": "Line\nbreak", "IsDeleted": True, "AnnualRevenue": Decimal("1E+3")},
    ]
    assert records_to_csv(records, ["Id", "Name", "IsDeleted", "AnnualRevenue", "Description"]) == (
        b"Id,Name,IsDeleted,AnnualRevenue,Description\n"
        b'001A,"Acme, ""Inc""",false,12345678901234.56,\n'
        b'001B,"Line\nbreak",true,1E+3,\n'
    )


def make_org(**secrets) -> OrgConfig:
    return OrgConfig(
        name="emea",
        geo="EMEA",
        auth="jwt",
        login_url="https://login.example.com",
        secret_envs={"client_id": "EMEA_ID", "username": "EMEA_USER", "private_key": "EMEA_KEY"},
        secrets=secrets,
    )


def test_jwt_assertion_is_signed_with_the_key_and_names_app_user_and_audience(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem)
    for key_value in (pem, str(key_file)):
        token = build_jwt_assertion(
            make_org(client_id="app-1", username="u@example.com", private_key=key_value), now=1_700_000_000
        )
        claims = jwt.decode(
            token,
            key.public_key(),
            algorithms=["RS256"],
            audience="https://login.example.com",
            options={"verify_exp": False},
        )
        assert claims == {
            "iss": "app-1",
            "sub": "u@example.com",
            "aud": "https://login.example.com",
            "exp": 1_700_000_180,
        }


def test_jwt_assertion_with_an_unreadable_key_names_the_variable(tmp_path):
    org = make_org(client_id="a", username="u", private_key=str(tmp_path / "absent.pem"))
    with pytest.raises(LoginFailed, match=r"org 'emea': EMEA_KEY holds neither a PEM key nor a readable file"):
        build_jwt_assertion(org)


def test_identity_url_gives_org_and_user_ids():
    assert _ids_from_identity_url("https://login.salesforce.com/id/00D000000000062AAA/005000000000001AAA") == (
        "00D000000000062AAA",
        "005000000000001AAA",
    )
    assert _ids_from_identity_url("") == (None, None)


def test_session_token_takes_the_org_id_from_the_session_id_prefix():
    org = OrgConfig(
        name="dev",
        geo="DEV",
        auth="session",
        instance_url="https://dev.example.com",
        secrets={"session_id": "00D000000000062!AQ0AQ.token"},
    )
    token = _session_token(org)
    assert (token.org_id, token.instance_url, token.access_token) == (
        "00D000000000062EAA",
        "https://dev.example.com",
        "00D000000000062!AQ0AQ.token",
    )


DESCRIBE = {
    "name": "Account",
    "queryable": True,
    "replicateable": True,
    "fields": [
        {"name": "Id", "type": "id", "length": 18},
        {"name": "IsDeleted", "type": "boolean"},
        {"name": "Name", "type": "string", "length": 255, "label": "Account Name"},
        {"name": "BillingAddress", "type": "address"},
        {"name": "BillingCity", "type": "string", "length": 40, "compoundFieldName": "BillingAddress"},
        {"name": "AnnualRevenue", "type": "currency", "precision": 18, "scale": 2},
        {"name": "ParentId", "type": "reference", "length": 18, "referenceTo": ["Account"]},
        {"name": "SystemModstamp", "type": "datetime"},
        {"name": "CreatedDate", "type": "datetime"},
    ],
}


def test_parse_describe_reads_types_sizes_and_references():
    sobject = parse_describe(DESCRIBE, "Wed, 01 May 2024 00:00:00 GMT")
    assert sobject.last_modified == "Wed, 01 May 2024 00:00:00 GMT"
    assert sobject.field("annualrevenue").precision == 18 and sobject.field("AnnualRevenue").scale == 2
    assert sobject.field("ParentId").reference_to == ("Account",)
    assert sobject.field("BillingCity").compound_field_name == "BillingAddress"
    assert sobject.field("Nope") is None


def test_selectable_fields_puts_system_fields_first_and_skips_compound_parents():
    sobject = parse_describe(DESCRIBE)
    every, missing = selectable_fields(sobject, None)
    assert [field.name for field in every] == [
        "Id",
        "SystemModstamp",
        "IsDeleted",
        "CreatedDate",
        "Name",
        "BillingCity",
        "AnnualRevenue",
        "ParentId",
    ]
    assert missing == ()
    listed, missing = selectable_fields(sobject, ("name", "Gone__c", "BillingAddress"))
    assert [field.name for field in listed] == ["Id", "SystemModstamp", "IsDeleted", "CreatedDate", "Name"]
    assert missing == ("Gone__c",)
