import pytest

from app.warehouse.types import (
    POSTGRES_TYPES,
    Column,
    SourceField,
    column_for,
    column_name,
    normalized_type,
    widened_type,
)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (SourceField("Id", "id", 18), Column("sfid", "varchar(18)", "Id")),
        (SourceField("OwnerId", "reference", 18), Column("ownerid", "varchar(18)", "OwnerId")),
        (SourceField("Name", "string", 80), Column("name", "varchar(80)", "Name")),
        (SourceField("Email", "email", 80), Column("email", "varchar(80)", "Email")),
        (SourceField("Phone", "phone", 40), Column("phone", "varchar(40)", "Phone")),
        (SourceField("Website", "url", 255), Column("website", "varchar(255)", "Website")),
        (SourceField("Kind__c", "combobox", 100), Column("kind__c", "varchar(100)", "Kind__c")),
        (SourceField("Secret__c", "encryptedstring", 175), Column("secret__c", "varchar(175)", "Secret__c")),
        (
            SourceField("CurrentWellnessStatus", "picklist", 40),
            Column("currentwellnessstatus", "varchar(255)", "CurrentWellnessStatus"),
        ),
        (SourceField("Tags__c", "multipicklist", 4099), Column("tags__c", "varchar(4099)", "Tags__c")),
        (SourceField("Short__c", "textarea", 255), Column("short__c", "varchar(255)", "Short__c")),
        (SourceField("Description", "textarea", 32000), Column("description", "text", "Description")),
        (SourceField("IsActive", "boolean"), Column("isactive", "boolean", "IsActive")),
        (
            SourceField("NumberOfEmployees", "int", precision=8),
            Column("numberofemployees", "integer", "NumberOfEmployees"),
        ),
        (SourceField("Big__c", "long", precision=18), Column("big__c", "bigint", "Big__c")),
        (SourceField("Score__c", "double", precision=18, scale=4), Column("score__c", "numeric(18,4)", "Score__c")),
        (
            SourceField("AnnualRevenue", "currency", precision=18, scale=0),
            Column("annualrevenue", "numeric(18,0)", "AnnualRevenue"),
        ),
        (SourceField("Share__c", "percent", precision=5, scale=2), Column("share__c", "numeric(5,2)", "Share__c")),
        (SourceField("Huge__c", "double", precision=2000, scale=3), Column("huge__c", "numeric(1000,3)", "Huge__c")),
        (SourceField("Loose__c", "double"), Column("loose__c", "numeric", "Loose__c")),
        (SourceField("Birthdate", "date"), Column("birthdate", "date", "Birthdate")),
        (SourceField("SystemModstamp", "datetime"), Column("systemmodstamp", "timestamptz", "SystemModstamp")),
        (SourceField("ShiftStart__c", "time"), Column("shiftstart__c", "time", "ShiftStart__c")),
        (
            SourceField("Location__Latitude__s", "double", precision=9, scale=6),
            Column("location__latitude__s", "numeric(9,6)", "Location__Latitude__s"),
        ),
        (SourceField("Value__c", "anyType"), Column("value__c", "text", "Value__c")),
        (SourceField("Location__c", "location"), None),
        (SourceField("BillingAddress", "address"), None),
        (SourceField("Body", "base64"), None),
        (SourceField("Mystery__c", "hologram", 10), Column("mystery__c", "text", "Mystery__c", fallback=True)),
    ],
)
def test_column_for_maps_each_describe_type(field, expected):
    assert column_for(field) == expected


def test_every_describe_type_in_the_table_is_covered_above():
    covered = {
        "id",
        "reference",
        "string",
        "email",
        "phone",
        "url",
        "combobox",
        "encryptedstring",
        "picklist",
        "multipicklist",
        "textarea",
        "boolean",
        "int",
        "long",
        "double",
        "currency",
        "percent",
        "date",
        "datetime",
        "time",
        "anyType",
        "location",
        "address",
        "base64",
    }
    assert set(POSTGRES_TYPES) == covered


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("Id", "sfid"),
        ("SystemModstamp", "systemmodstamp"),
        ("IsDeleted", "isdeleted"),
        ("CreatedDate", "createddate"),
        ("Infrm__Action__c", "infrm__action__c"),
        ("EmployeeId", "employeeid"),
    ],
)
def test_column_name_lower_cases_and_maps_id_to_sfid(field, name):
    assert column_name(field) == name


@pytest.mark.parametrize(
    ("spelled", "normal"),
    [
        ("character varying(80)", "varchar(80)"),
        ("timestamp with time zone", "timestamptz"),
        ("numeric(18, 2)", "numeric(18,2)"),
        ("time without time zone", "time"),
        ("integer", "integer"),
        ("text", "text"),
    ],
)
def test_normalized_type_uses_this_modules_spelling(spelled, normal):
    assert normalized_type(spelled) == normal


@pytest.mark.parametrize(
    ("old", "new", "widened"),
    [
        ("varchar(10)", "varchar(20)", "varchar(20)"),
        ("varchar(20)", "varchar(10)", "varchar(20)"),
        ("character varying(10)", "text", "text"),
        ("text", "varchar(5)", "text"),
        ("character varying", "varchar(5)", "varchar"),
        ("varchar(10)", "character varying", "varchar"),
        ("integer", "bigint", "bigint"),
        ("bigint", "integer", "bigint"),
        ("integer", "numeric(18,2)", "numeric(18,2)"),
        ("integer", "numeric(5,2)", "numeric(12,2)"),
        ("numeric(18,2)", "numeric(10,4)", "numeric(20,4)"),
        ("numeric(18,2)", "numeric(18,2)", "numeric(18,2)"),
        ("numeric(18,2)", "integer", "numeric(18,2)"),
        ("numeric(5,0)", "integer", "numeric(10,0)"),
        ("numeric(18,2)", "numeric", "numeric"),
        ("numeric", "integer", "numeric"),
        ("timestamp with time zone", "timestamptz", "timestamptz"),
        ("date", "varchar(10)", None),
        ("varchar(10)", "date", None),
        ("boolean", "integer", None),
        ("numeric(18,2)", "varchar(40)", None),
        ("timestamptz", "date", None),
    ],
)
def test_widened_type_allows_only_widenings_that_keep_every_value(old, new, widened):
    assert widened_type(old, new) == widened
