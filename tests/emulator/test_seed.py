"""Demo data: deterministic from the seed, realistic fields, lookups inside the same org."""

from __future__ import annotations

import time

from app.emulator import demo_orgs
from app.emulator.org import Org

ALL_EMPLOYEE_FIELDS = None


def _csv(org: Org, sobject: str, rows: int) -> list[str]:
    table = org.table(sobject)
    fields = [f.name for f in table.sobject.fields if f.type not in ("address", "location", "base64")]
    return table.csv_lines(fields, range(rows))


def test_the_same_seed_gives_the_same_data_twice() -> None:
    first = [Org(spec) for spec in demo_orgs(rows=200, seed=11)]
    second = [Org(spec) for spec in demo_orgs(rows=200, seed=11)]
    for a, b in zip(first, second):
        assert a.org_id == b.org_id
        assert a.app.client_secret == b.app.client_secret
        for sobject in ("Employee", "EmployeeCrisisAssessment", "Account", "Contact"):
            assert _csv(a, sobject, 200) == _csv(b, sobject, 200)
            table_a, table_b = a.table(sobject), b.table(sobject)
            assert [table_a.value(57, f.name) for f in table_a.sobject.fields] == [
                table_b.value(57, f.name) for f in table_b.sobject.fields
            ]


def test_a_different_seed_gives_different_data() -> None:
    amer_7 = Org(demo_orgs(rows=50, seed=7)[0])
    amer_8 = Org(demo_orgs(rows=50, seed=8)[0])
    assert _csv(amer_7, "Employee", 50) != _csv(amer_8, "Employee", 50)
    assert amer_7.org_id != amer_8.org_id


def test_employee_has_about_forty_fields_with_realistic_describe_types() -> None:
    employee = Org(demo_orgs(rows=1)[0]).table("Employee").sobject
    assert 40 <= len(employee.fields) <= 46
    kinds = {f.name: (f.type, f.length) for f in employee.fields}
    assert kinds["Email"] == ("email", 80)
    assert kinds["WorkPhone"] == ("phone", 40)
    assert kinds["CurrentWellnessStatus"][0] == "picklist"
    assert employee.field("CurrentWellnessStatus").picklist_values == ("Available", "Unavailable", "Unknown")
    assert employee.field("HourlyRate__c").type == "currency"
    assert (employee.field("HourlyRate__c").precision, employee.field("HourlyRate__c").scale) == (16, 2)
    assert employee.field("FtePercent__c").type == "percent"
    assert employee.field("ShiftStartTime__c").type == "time"
    assert employee.field("Photo").type == "base64"
    assert employee.field("Description").type == "textarea" and employee.field("Description").length == 32000
    assert employee.field("OfficeLocation__c").type == "location"
    assert employee.field("OfficeLocation__Latitude__s").compound_field_name == "OfficeLocation__c"
    for system in (
        "Id",
        "IsDeleted",
        "Name",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "OwnerId",
    ):
        assert employee.field(system) is not None, system


def test_assessment_has_about_seventeen_fields_and_looks_up_employees() -> None:
    assessment = Org(demo_orgs(rows=1)[0]).table("EmployeeCrisisAssessment").sobject
    assert 16 <= len(assessment.fields) <= 19
    assert assessment.field("EmployeeId").reference_to == ("Employee",)
    assert assessment.field("Assessment").type == "picklist"
    assert assessment.field("AssessmentDate").type == "date"


def test_account_has_a_billing_address_compound_with_its_components() -> None:
    account = Org(demo_orgs(rows=1)[0]).table("Account").sobject
    assert account.field("BillingAddress").type == "address"
    components = [f.name for f in account.fields if f.compound_field_name == "BillingAddress"]
    assert components == [
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
        "BillingLatitude",
        "BillingLongitude",
        "BillingGeocodeAccuracy",
    ]
    assert account.field("NumberOfEmployees").type == "int"


def test_each_org_has_a_custom_field_the_other_lacks() -> None:
    amer, emea = (Org(spec) for spec in demo_orgs(rows=1))
    assert amer.table("Employee").sobject.field("BadgeNumber__c") is not None
    assert emea.table("Employee").sobject.field("BadgeNumber__c") is None
    assert emea.table("Employee").sobject.field("WorksCouncilMember__c") is not None
    assert amer.table("Employee").sobject.field("WorksCouncilMember__c") is None
    assert emea.table("Account").sobject.field("VatNumber__c") is not None
    assert amer.table("Account").sobject.field("VatNumber__c") is None


def test_lookups_point_at_existing_records_of_the_same_org() -> None:
    for spec in demo_orgs(rows=120):
        org = Org(spec)
        employees = {org.table("Employee").record_id(r) for r in range(120)}
        accounts = {org.table("Account").record_id(r) for r in range(120)}
        assessments, contacts = org.table("EmployeeCrisisAssessment"), org.table("Contact")
        assert {assessments.value(r, "EmployeeId") for r in range(120)} <= employees
        assert {contacts.value(r, "AccountId") for r in range(120)} <= accounts
        assert len({assessments.value(r, "EmployeeId") for r in range(120)}) > 60


def test_orgs_differ_in_names_and_locale() -> None:
    amer, emea = (Org(spec) for spec in demo_orgs(rows=100))
    assert (amer.spec.locale, emea.spec.locale) == ("en_US", "de_DE")
    assert amer.spec.company != emea.spec.company
    amer_names = {amer.table("Employee").value(r, "LastName") for r in range(100)}
    emea_names = {emea.table("Employee").value(r, "LastName") for r in range(100)}
    assert not amer_names & emea_names
    assert all(str(amer.table("Employee").value(r, "Email")).endswith("@amer.acme.example") for r in range(100))


def test_half_a_million_rows_per_object_seed_in_seconds() -> None:
    started = time.monotonic()
    orgs = [Org(spec) for spec in demo_orgs(rows={"Employee": 500_000, "EmployeeCrisisAssessment": 1000})]
    assert time.monotonic() - started < 15
    employee = orgs[1].table("Employee")
    assert employee.size == 500_000
    assert employee.record_id(499_999) == "0hE7X0000500000UAA"


def test_grouped_csv_rendering_equals_cell_by_cell_rendering() -> None:
    for spec in demo_orgs(rows=600, seed=5):
        table = Org(spec).table("Employee")
        fields = [f.name for f in table.sobject.fields if f.type not in ("address", "location", "base64")]
        assert len(table._csv_sources(fields)) < len(fields) / 2
        grouped = table.csv_lines(fields, range(600))
        table.groups = {}
        assert table.csv_lines(fields, range(600)) == grouped


def test_a_retyped_group_member_is_rendered_on_its_own() -> None:
    from app.emulator.schema_changes import retype_field

    org = Org(demo_orgs(rows=50)[0])
    table = org.table("Employee")
    retype_field(table, "Gender", "string", org.spec.as_of, length=20)
    fields = [f.name for f in table.sobject.fields if f.type not in ("address", "location", "base64")]
    assert table.columns["Gender"] in table._csv_sources(fields)
    assert [line.split('","')[fields.index("Gender")] for line in table.csv_lines(fields, range(3))] == [
        str(table.value(row, "Gender")) for row in range(3)
    ]
