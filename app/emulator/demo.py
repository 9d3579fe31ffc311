"""The demo orgs AMER and EMEA: different companies, locales, names and one-org-only custom fields."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from app.emulator.demo_objects import (
    Locale,
    account,
    contact,
    employee,
    employee_crisis_assessment,
)
from app.emulator.org import OrgSpec
from app.emulator.seed import Choice, Template
from app.emulator.standard_fields import plain, text

# Seeded data is dated before this fixed time so that the same seed gives the same data on any day.
DATA_AS_OF = datetime(2025, 1, 1, tzinfo=UTC)
DEMO_OBJECTS = ("Employee", "EmployeeCrisisAssessment", "Account", "Contact")

AMER = Locale(
    first_names=("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
                 "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
                 "Thomas", "Sarah", "Carlos", "Maria", "Daniel", "Lisa", "Matthew", "Nancy",
                 "Anthony", "Ashley", "Mark", "Emily", "Jose", "Sofia", "Kevin", "Michelle"),
    last_names=("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
                "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
                "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
                "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "O'Brien"),
    cities=(("New York", "NY", "United States", 40.712776, -74.005974),
            ("San Francisco", "CA", "United States", 37.774929, -122.419418),
            ("Chicago", "IL", "United States", 41.878113, -87.629799),
            ("Austin", "TX", "United States", 30.267153, -97.743057),
            ("Toronto", "ON", "Canada", 43.653225, -79.383186),
            ("Sao Paulo", "SP", "Brazil", -23.550520, -46.633308)),
    phone_format="+1 415 555 {:04d}",
    email_domain="amer.acme.example",
    employee_number_format="AM-{:07d}",
    custom_employee_field=(text("BadgeNumber__c", "Badge Number", 20, custom=True),
                           Template("B{:06d}")),
    custom_account_field=None,
)

EMEA = Locale(
    first_names=("Lukas", "Anna", "Léa", "Hugo", "Sofía", "Mateo", "Emma", "Noah", "Mia", "Elias",
                 "Chloé", "Gabriel", "Zoë", "Luca", "Ingrid", "Björn", "Amélie", "Jan", "Ewa",
                 "Giulia", "Marco", "Saoirse", "Oliver", "Freya", "Aleksander", "Ines", "Timo", "Nora"),
    last_names=("Müller", "Schmidt", "Dubois", "Moreau", "García", "Fernández", "Rossi", "Bianchi",
                "Jansen", "de Vries", "Nowak", "Kowalski", "Andersson", "Johansson", "Murphy",
                "O'Sullivan", "Lefèvre", "Weiß", "Novák", "Horváth", "Silva", "Santos", "Popescu",
                "Nielsen", "Virtanen", "Schäfer", "Łukasik"),
    cities=(("Berlin", "BE", "Germany", 52.520008, 13.404954),
            ("Paris", "IDF", "France", 48.856613, 2.352222),
            ("Madrid", "MD", "Spain", 40.416775, -3.703790),
            ("Dublin", "D", "Ireland", 53.349805, -6.260310),
            ("Warsaw", "MZ", "Poland", 52.229676, 21.012229),
            ("Dubai", "DU", "United Arab Emirates", 25.204849, 55.270782)),
    phone_format="+49 30 5550 {:04d}",
    email_domain="emea.acme.example",
    employee_number_format="EM-{:07d}",
    custom_employee_field=(plain("WorksCouncilMember__c", "Works Council Member", "boolean",
                                 custom=True, nillable=False, defaulted_on_create=True),
                           Choice((False, False, False, True))),
    custom_account_field=(text("VatNumber__c", "VAT Number", 20, custom=True),
                          Template("EU{:09d}")),
)


def demo_orgs(rows: int | Mapping[str, int] = 300, seed: int = 7) -> tuple[OrgSpec, OrgSpec]:
    """Return the specs of the demo orgs `amer` and `emea` with `rows` records per object.

    `rows` is one count for every demo object, or a count per object name (missing: 0).
    """
    counts = {name: rows for name in DEMO_OBJECTS} if isinstance(rows, int) else dict(rows)
    return (
        OrgSpec(name="amer", geo="AMER", company="Acme Americas", locale="en_US",
                timezone="America/New_York", currency="USD", pod="5e", seed=seed, as_of=DATA_AS_OF,
                objects=(employee(AMER), employee_crisis_assessment(), account(AMER), contact(AMER)),
                rows=counts),
        OrgSpec(name="emea", geo="EMEA", company="Acme EMEA GmbH", locale="de_DE",
                timezone="Europe/Berlin", currency="EUR", pod="7X", seed=seed, as_of=DATA_AS_OF,
                objects=(employee(EMEA), employee_crisis_assessment(), account(EMEA), contact(EMEA)),
                rows=counts),
    )
