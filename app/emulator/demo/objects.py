"""The demo objects: Work.com Employee and EmployeeCrisisAssessment, Account and Contact.

Fields mirror Salesforce's standard objects closely enough for the loader: realistic describe
types (email 80, phone 40, picklists, currency, percent, int, time, base64, long text area, an
address compound on Account, a geolocation compound on Employee) and per-org custom fields.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from app.emulator.demo.fields import (
    FieldSpec,
    email,
    number,
    phone,
    picklist,
    plain,
    reference,
    system_fields,
    text,
    textarea,
)
from app.emulator.schema import Field, SObjectType
from app.emulator.seed import (
    Choice,
    Constant,
    Dates,
    Numbers,
    ObjectSpec,
    Reference,
    Template,
    Times,
)

WELLNESS = ("Available", "Unavailable", "Unknown")
EMPLOYEE_STATUS = ("Active",) * 8 + ("Inactive", "Leave", "Onboarding", "Terminated")
WORKER_TYPES = ("Employee",) * 6 + ("Contractor", "Intern")
ASSESSMENTS = ("Cleared", "Not Cleared", "Pending Review")
INDUSTRIES = (
    "Agriculture",
    "Banking",
    "Chemicals",
    "Communications",
    "Construction",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Finance",
    "Healthcare",
    "Insurance",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Transportation",
)
PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
SENTENCES = (
    "Prefers remote work on Fridays.",
    'Speaks three languages, "fluently".',
    "Joined from the acquisition; badge pending.",
    "Mentor for new hires,\nquarterly.",
)


@dataclass(frozen=True)
class Locale:
    """What makes one demo org's data look like its region."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    cities: tuple[tuple[str, str, str, float, float], ...]  # city, state, country, lat, long
    phone_format: str
    email_domain: str
    employee_number_format: str
    custom_employee_field: FieldSpec
    custom_account_field: FieldSpec | None


def _phones(prefix_format: str) -> tuple[str, ...]:
    return tuple(prefix_format.format(n) for n in range(0, 10000, 7))


def employee(locale: Locale) -> ObjectSpec:
    phones = _phones(locale.phone_format)
    specs: list[FieldSpec] = system_fields()
    specs[2:2] = [
        (
            text(
                "Name",
                "Full Name",
                121,
                createable=False,
                updateable=False,
                name_field=True,
                nillable=False,
                defaulted_on_create=True,
            ),
            Template("{} {}", ("FirstName", "LastName"), with_number=False),
        )
    ]
    specs += [
        (text("FirstName", "First Name", 40), Choice(locale.first_names)),
        (text("MiddleName", "Middle Name", 40), Choice(locale.first_names, 0.7)),
        (text("LastName", "Last Name", 80, nillable=False), Choice(locale.last_names)),
        (text("PreferredFirstName", "Preferred First Name", 40), Choice(locale.first_names, 0.8)),
        (text("PreferredLastName", "Preferred Last Name", 80), Choice(locale.last_names, 0.9)),
        (text("Suffix", "Suffix", 40), Choice(("Jr.", "Sr.", "II", "III"), 0.95)),
        (
            email("Email", "Email", nillable=False),
            Template("{}.{}{}@" + locale.email_domain, ("FirstName", "LastName"), ascii_lower=True),
        ),
        (
            email("AlternateEmail", "Alternate Email"),
            Template("{}{}@mail.example.org", ("LastName",), ascii_lower=True),
        ),
        (phone("WorkPhone", "Work Phone"), Choice(phones)),
        (phone("MobilePhone", "Mobile Phone"), Choice(phones, 0.3)),
        (phone("HomePhone", "Home Phone"), Choice(phones, 0.6)),
        (picklist("CurrentWellnessStatus", "Current Wellness Status", WELLNESS), Choice(WELLNESS)),
        (plain("DateOfBirth", "Date of Birth", "date"), Dates(date(1960, 1, 1), 40 * 365)),
        (
            text("EmployeeNumber", "Employee Number", 80, nillable=False, unique=True, external_id=True),
            Template(locale.employee_number_format),
        ),
        (
            picklist("EmployeeStatus", "Employee Status", tuple(dict.fromkeys(EMPLOYEE_STATUS)), nillable=False),
            Choice(EMPLOYEE_STATUS),
        ),
        (picklist("WorkerType", "Worker Type", tuple(dict.fromkeys(WORKER_TYPES))), Choice(WORKER_TYPES)),
        (plain("StatusAsOf", "Status As Of", "date"), Dates(date(2024, 1, 1), 365)),
        (
            picklist("Gender", "Gender", ("Female", "Male", "Nonbinary", "Not Declared")),
            Choice(("Female", "Male", "Nonbinary", "Not Declared")),
        ),
        (
            picklist("Pronouns", "Pronouns", ("She/Her", "He/Him", "They/Them", "Not Listed")),
            Choice(("She/Her", "He/Him", "They/Them", "Not Listed"), 0.4),
        ),
        (
            text("Department", "Department", 80),
            Choice(("Engineering", "Finance", "People", "Sales", "Support", "Operations")),
        ),
        (
            text("Title", "Title", 128),
            Choice(("Analyst", "Engineer", "Manager", "Director", "Specialist", "Consultant")),
        ),
        (reference("ManagerId", "Manager ID", ("Employee",), "Manager"), Reference("Employee", 1, 8)),
        (reference("LocationId", "Location ID", ("Location",), "Location"), Reference("Location", 1, 1)),
        (reference("UserId", "User ID", ("User",), "User"), Constant(None)),
        (plain("StartDate", "Start Date", "date"), Dates(date(2005, 1, 1), 19 * 365)),
        (plain("EndDate", "End Date", "date"), Dates(date(2024, 6, 1), 365, 0.9)),
        (textarea("Description", "Description", 32000), Choice(SENTENCES, 0.5)),
        (plain("Photo", "Photo", "base64"), Choice((PIXEL_PNG,), 0.7)),
        (plain("ShiftStartTime__c", "Shift Start Time", "time", custom=True), Times(6, 14)),
        (number("HourlyRate__c", "Hourly Rate", "currency", 16, 2, custom=True), Numbers(15, 120, 2)),
        (number("FtePercent__c", "FTE Percent", "percent", 5, 2, custom=True), Numbers(50, 100, 1)),
        (plain("OfficeLocation__c", "Office Location", "location", custom=True, precision=0, scale=6), Constant(None)),
        (
            number(
                "OfficeLocation__Latitude__s",
                "Office Location (Latitude)",
                "double",
                9,
                6,
                custom=True,
                compound_field_name="OfficeLocation__c",
            ),
            Choice(tuple(round(city[3], 6) for city in locale.cities), stream="office"),
        ),
        (
            number(
                "OfficeLocation__Longitude__s",
                "Office Location (Longitude)",
                "double",
                9,
                6,
                custom=True,
                compound_field_name="OfficeLocation__c",
            ),
            Choice(tuple(round(city[4], 6) for city in locale.cities), stream="office"),
        ),
        locale.custom_employee_field,
    ]
    return _spec("Employee", "Employee", "Employees", "0hE", specs)


def employee_crisis_assessment() -> ObjectSpec:
    specs = system_fields()
    specs[2:2] = [
        (
            text(
                "Name",
                "Employee Crisis Assessment Name",
                80,
                createable=False,
                updateable=False,
                nillable=False,
                name_field=True,
                defaulted_on_create=True,
                auto_number=True,
            ),
            Template("ECA-{:07d}"),
        )
    ]
    reasons = ("Daily Check", "Return to Work", "Travel", "Exposure")
    diagnosis = ("Not Tested", "Negative", "Positive", "Pending")
    specs += [
        (
            reference("EmployeeId", "Employee ID", ("Employee",), "Employee", nillable=False),
            Reference("Employee", 7, 1, 3),
        ),
        (plain("AssessmentDate", "Assessment Date", "date"), Dates(date(2024, 1, 1), 360)),
        (picklist("Assessment", "Assessment", ASSESSMENTS), Choice(ASSESSMENTS)),
        (
            picklist("AssessmentStatus", "Assessment Status", ("Completed", "In Progress", "Not Started")),
            Choice(("Completed", "Completed", "In Progress", "Not Started")),
        ),
        (picklist("AssessmentReason", "Assessment Reason", reasons), Choice(reasons)),
        (reference("CrisisId", "Crisis ID", ("Crisis",), "Crisis"), Reference("Crisis", 1, 1)),
        (picklist("DiagnosisStatus", "Diagnosis Status", diagnosis), Choice(diagnosis)),
        (plain("DiagnosisDate", "Diagnosis Date", "date"), Dates(date(2024, 1, 1), 360, 0.8)),
        (textarea("Comments", "Comments"), Choice(SENTENCES, 0.6)),
    ]
    return _spec("EmployeeCrisisAssessment", "Employee Crisis Assessment", "Employee Crisis Assessments", "0hC", specs)


def account(locale: Locale) -> ObjectSpec:
    phones = _phones(locale.phone_format)
    specs = system_fields()
    cities = locale.cities
    specs[2:2] = [
        (
            text("Name", "Account Name", 255, nillable=False, name_field=True),
            Template(
                "{} {}",
                (
                    (
                        "Northwind",
                        "Contoso",
                        "Globex",
                        "Initech",
                        "Umbrella",
                        "Stark",
                        "Wayne",
                        "Acme",
                        "Hooli",
                        "Vandelay",
                    ),
                    ("Group", "Holdings", "Industries", "Partners", "Labs"),
                ),
                with_number=False,
            ),
        )
    ]
    accuracy = (
        "Address",
        "NearAddress",
        "Block",
        "Street",
        "ExtendedZip",
        "Zip",
        "Neighborhood",
        "City",
        "County",
        "State",
        "Unknown",
    )
    specs += [
        (
            picklist("Type", "Account Type", ("Prospect", "Customer - Direct", "Partner", "Other")),
            Choice(("Prospect", "Customer - Direct", "Partner", "Other")),
        ),
        (picklist("Industry", "Industry", INDUSTRIES), Choice(INDUSTRIES, 0.1)),
        (phone("Phone", "Account Phone"), Choice(phones)),
        (phone("Fax", "Account Fax"), Choice(phones, 0.7)),
        (
            plain("Website", "Website", "url", length=255),
            Template("https://www.example-{}.com", (("north", "south", "east", "west", "central"),)),
        ),
        (number("AnnualRevenue", "Annual Revenue", "currency", 18, 0), Numbers(1e5, 5e8, 0, 0.2)),
        (number("NumberOfEmployees", "Employees", "int", 8, 0), Numbers(5, 50000, 0)),
        (textarea("Description", "Account Description", 32000), Choice(SENTENCES, 0.5)),
        (text("AccountNumber", "Account Number", 40), Template("ACC-{:08d}")),
        (picklist("Rating", "Account Rating", ("Hot", "Warm", "Cold")), Choice(("Hot", "Warm", "Cold"), 0.3)),
        (
            textarea("BillingStreet", "Billing Street"),
            Template("{} Main Street", (tuple(str(n) for n in range(1, 400)),), with_number=False),
        ),
        (
            text("BillingCity", "Billing City", 40, compound_field_name="BillingAddress"),
            Choice(tuple(c[0] for c in cities), stream="city"),
        ),
        (
            text("BillingState", "Billing State/Province", 80, compound_field_name="BillingAddress"),
            Choice(tuple(c[1] for c in cities), stream="city"),
        ),
        (
            text("BillingPostalCode", "Billing Zip/Postal Code", 20, compound_field_name="BillingAddress"),
            Choice(tuple(f"{n:05d}" for n in range(10000, 99999, 977))),
        ),
        (
            text("BillingCountry", "Billing Country", 80, compound_field_name="BillingAddress"),
            Choice(tuple(c[2] for c in cities), stream="city"),
        ),
        (
            number("BillingLatitude", "Billing Latitude", "double", 18, 15, compound_field_name="BillingAddress"),
            Choice(tuple(c[3] for c in cities), stream="city"),
        ),
        (
            number("BillingLongitude", "Billing Longitude", "double", 18, 15, compound_field_name="BillingAddress"),
            Choice(tuple(c[4] for c in cities), stream="city"),
        ),
        (
            picklist(
                "BillingGeocodeAccuracy", "Billing Geocode Accuracy", accuracy, compound_field_name="BillingAddress"
            ),
            Choice(accuracy, 0.5),
        ),
        (plain("BillingAddress", "Billing Address", "address", createable=False, updateable=False), Constant(None)),
    ]
    if locale.custom_account_field is not None:
        specs.append(locale.custom_account_field)
    # Salesforce's BillingStreet belongs to the compound too.
    specs = [(f if f.name != "BillingStreet" else _in_compound(f, "BillingAddress"), g) for f, g in specs]
    return _spec("Account", "Account", "Accounts", "001", specs)


def contact(locale: Locale) -> ObjectSpec:
    phones = _phones(locale.phone_format)
    specs = system_fields()
    salutations = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
    specs[2:2] = [
        (reference("AccountId", "Account ID", ("Account",), "Account"), Reference("Account", 3, 1, 1)),
        (text("LastName", "Last Name", 80, nillable=False), Choice(locale.last_names)),
        (text("FirstName", "First Name", 40), Choice(locale.first_names)),
        (picklist("Salutation", "Salutation", salutations), Choice(salutations, 0.4)),
        (
            text(
                "Name",
                "Full Name",
                121,
                createable=False,
                updateable=False,
                nillable=False,
                name_field=True,
                defaulted_on_create=True,
            ),
            Template("{} {}", ("FirstName", "LastName"), with_number=False),
        ),
    ]
    lead_sources = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
    specs += [
        (text("Title", "Title", 128), Choice(("CEO", "CFO", "VP Sales", "Buyer", "Engineer"), 0.2)),
        (text("Department", "Department", 80), Choice(("Finance", "Procurement", "IT"), 0.5)),
        (phone("Phone", "Business Phone"), Choice(phones)),
        (phone("Fax", "Business Fax"), Choice(phones, 0.8)),
        (phone("MobilePhone", "Mobile Phone"), Choice(phones, 0.3)),
        (
            email("Email", "Email"),
            Template("{}.{}{}@customer.example.com", ("FirstName", "LastName"), ascii_lower=True),
        ),
        (plain("Birthdate", "Birthdate", "date"), Dates(date(1955, 1, 1), 45 * 365, 0.5)),
        (picklist("LeadSource", "Lead Source", lead_sources), Choice(lead_sources, 0.3)),
        (
            plain("DoNotCall", "Do Not Call", "boolean", nillable=False, defaulted_on_create=True),
            Choice((False, False, False, True)),
        ),
        (
            plain("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, defaulted_on_create=True),
            Choice((False, False, True)),
        ),
    ]
    return _spec("Contact", "Contact", "Contacts", "003", specs)


def _in_compound(field: Field, compound: str) -> Field:
    return replace(field, compound_field_name=compound)


def _spec(name: str, label: str, plural: str, prefix: str, specs: list[FieldSpec]) -> ObjectSpec:
    sobject = SObjectType(name, label, plural, prefix, tuple(f for f, _ in specs))
    return ObjectSpec(sobject, {f.name: g for f, g in specs})
