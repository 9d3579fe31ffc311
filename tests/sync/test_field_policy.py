"""Field policies end to end: a hashed field is never in clear in the database, a redacted one is null,
and a changed policy reloads its mapping (against the emulator's demo orgs)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

from sqlalchemy import text

from app.config import MappingConfig
from app.sync.report import SyncOptions
from app.sync.run import run_sync
from app.warehouse.status import read_status
from tests.support.configs import make_settings

KEY = "policy-test-key-" + "0" * 32
SHARED = {"amer": " Shared.Person@Example.COM", "emea": "shared.person@example.com "}


def digest(value: str) -> str:
    return hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def policy_settings(emulator, database_url, **policy):
    settings = make_settings(emulator, database_url, objects=("Account",))
    contact = MappingConfig(object="Contact", fields=None, orgs=None, **policy)
    return replace(settings, mappings=(*settings.mappings, contact), hash_key=KEY)


def clear_values(emulator, sobject: str, field: str) -> set[str]:
    values = set()
    for org in ("amer", "emea"):
        table = emulator.table(org, sobject)
        values |= {value for row in table.rows(include_deleted=True) if (value := table.value(row, field))}
    return values


def database_text(engine) -> str:
    """Every row of every table in the org schemas and orgfeed's own schema, as text."""
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "select quote_ident(table_schema) || '.' || quote_ident(table_name) from information_schema.tables "
                "where table_schema in ('amer', 'emea', 'orgfeed') and table_type = 'BASE TABLE'"
            )
        ).scalars()
        return "\n".join(
            row for table in tables.all() for row in conn.execute(text(f"select t::text from {table} t")).scalars()
        )


def contact_column(engine, org: str, column: str) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(f'select lastname, "{column}" from "{org}".contact where lastname = :n'), {"n": "Shared"}
        )
        return dict(rows.all())


def test_a_hashed_field_is_never_stored_in_clear_and_equal_inputs_hash_equal_across_orgs(
    emulator, engine, database_url
):
    for org, email in SHARED.items():
        emulator.insert(org, "Contact", [{"LastName": "Shared", "Email": email, "Phone": "+1 415 555 0100"}])
    settings = policy_settings(emulator, database_url, hash=("Email",), redact=("Phone",))
    assert run_sync(settings, engine).ok
    changed = emulator.ids("amer", "Contact", limit=1)[0]
    emulator.update("amer", "Contact", [{"Id": changed, "Email": "Changed.Later@Example.com", "Phone": "+1 212"}])
    report = run_sync(settings, engine)  # incremental: the changed row arrives through the REST path
    assert report.ok, [item.message for item in report.objects]
    assert {item.mode for item in report.objects} == {"incremental"}
    with engine.connect() as conn:
        stored_email = conn.execute(text("select email from amer.contact where sfid = :id"), {"id": changed}).scalar()
    assert stored_email == digest("changed.later@example.com")

    stored = database_text(engine)
    emails = clear_values(emulator, "Contact", "Email")
    assert len(emails) > 40
    assert [email for email in emails if email.strip().lower() in stored.lower()] == []
    assert contact_column(engine, "amer", "email") == {"Shared": digest("shared.person@example.com")}
    assert contact_column(engine, "emea", "email") == {"Shared": digest("shared.person@example.com")}
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from amer.contact where phone is not null")).scalar() == 0
        assert conn.execute(text("select count(*) from emea.contact where phone is not null")).scalar() == 0
        assert conn.execute(text("select count(*) from amer.contact where email is null")).scalar() == 0
        comments = dict(
            conn.execute(
                text(
                    "select attname, col_description(attrelid, attnum) from pg_attribute "
                    "where attrelid = 'amer.contact'::regclass and attname in ('email', 'phone', 'fax')"
                )
            ).all()
        )
    assert comments == {
        "email": "field policy: hash (hex HMAC-SHA256 of the value, keyed by the deployment's hash key)",
        "phone": "field policy: redact (always null: the value is not mirrored)",
        "fax": None,
    }


def test_a_changed_policy_shows_a_full_load_due_then_reloads_only_that_mapping(emulator, engine, database_url):
    first = policy_settings(emulator, database_url, hash=("Email",))
    assert run_sync(first, engine).ok
    with engine.connect() as conn:
        objects, _ = read_status(conn, first)
    contact = {item.org: item for item in objects if item.sobject == "Contact"}
    assert (contact["amer"].field_policy, contact["amer"].full_load_due) == ("hash Email", False)

    second = policy_settings(emulator, database_url, hash=("Email",), redact=("Fax",))
    with engine.connect() as conn:
        objects, _ = read_status(conn, second)
    due = {(item.org, item.sobject): (item.field_policy, item.full_load_due) for item in objects}
    assert due == {
        ("amer", "Account"): ("", False),
        ("emea", "Account"): ("", False),
        ("amer", "Contact"): ("hash Email; redact Fax", True),
        ("emea", "Contact"): ("hash Email; redact Fax", True),
    }

    report = run_sync(second, engine, SyncOptions())
    modes = {(item.org, item.sobject): item.mode for item in report.objects}
    assert modes == {
        ("amer", "Account"): "incremental",
        ("emea", "Account"): "incremental",
        ("amer", "Contact"): "full",
        ("emea", "Contact"): "full",
    }
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from amer.contact where fax is not null")).scalar() == 0
        objects, _ = read_status(conn, second)
    assert all(not item.full_load_due for item in objects)


def test_a_new_hash_key_reloads_the_hashed_mapping(emulator, engine, database_url):
    settings = policy_settings(emulator, database_url, hash=("Email",))
    assert run_sync(settings, engine).ok
    report = run_sync(replace(settings, hash_key="another-key-" + "1" * 32), engine)
    assert {item.mode for item in report.objects if item.sobject == "Contact"} == {"full"}
