"""An emulated org: identity, credentials, tables, API allocation and Bulk jobs, behind one lock."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from app.emulator.changes import Change
from app.emulator.credentials import (
    ConnectedApp,
    User,
    derived_secret,
    make_certificate,
)
from app.emulator.ids import KEY_PREFIXES, case_safe_id, record_id_format
from app.emulator.seed import ObjectSpec, SeedContext, seed_table
from app.emulator.table import CacheBudget, Table


@dataclass(frozen=True)
class OrgSpec:
    """Everything needed to build an org, deterministically from `seed`."""

    name: str  # lower-case; the orgfeed org name
    geo: str
    company: str
    locale: str  # Salesforce LocaleSidKey, e.g. en_US
    timezone: str
    currency: str
    pod: str  # two id characters naming the instance; unique per org
    seed: int
    as_of: datetime  # seeded records were last modified before this time
    objects: tuple[ObjectSpec, ...]
    rows: Mapping[str, int]  # object name -> seeded rows
    api_allocation: int = 100_000
    other_counts: Mapping[str, int] = field(default_factory=lambda: {"Location": 25, "Crisis": 3})


class Org:
    """The runtime state of one org. Hold `lock` while reading or changing its tables."""

    def __init__(self, spec: OrgSpec, cache_budget: CacheBudget | None = None) -> None:
        self.spec = spec
        self.cache_budget = cache_budget or CacheBudget()
        self.name = spec.name
        self.lock = threading.RLock()
        self.org_id = case_safe_id("00D" + spec.pod + "0000" + derived_secret(spec.seed, spec.name, "org", 6))
        self.id_templates = {sobject: record_id_format(prefix, spec.pod) for sobject, prefix in KEY_PREFIXES.items()}
        self.users = _users(spec, self.id_templates["User"])
        key_pem, certificate_pem = make_certificate(f"orgfeed-emulator-{spec.name}")
        self.app = ConnectedApp(
            client_id="3MVG9" + derived_secret(spec.seed, spec.name, "client_id", 80),
            client_secret=derived_secret(spec.seed, spec.name, "client_secret", 64, "0123456789ABCDEF"),
            run_as_username=self.users[0].username,
            certificate_pem=certificate_pem,
            private_key_pem=key_pem,
            refresh_token="5Aep861" + derived_secret(spec.seed, spec.name, "refresh_token", 80),
        )
        self.change_listeners: list[Callable[[Org, Table, Change], None]] = []  # e.g. the Pub/Sub event bus
        counts = {"User": len(self.users), **spec.other_counts, **spec.rows}
        context = SeedContext(spec.seed, spec.name, spec.as_of, self.id_templates, counts)
        self.tables: dict[str, Table] = {}
        for object_spec in spec.objects:
            rows = spec.rows.get(object_spec.sobject.name, 0)
            self.add_table(seed_table(object_spec, rows, context))
        self.api_max = spec.api_allocation
        self.api_used = 0
        self.bulk_jobs_created = 0
        self.bulk_batches_created = 0  # Bulk API 1.0 batches, against DailyBulkApiBatches
        self._serial = 0

    def add_table(self, table: Table) -> None:
        """Add or replace an object's table; its rendered CSV counts against the org's cache budget."""
        old = self.tables.get(table.sobject.name.lower())
        if old is not None:
            old.clear_cache()
        table.cache_budget = self.cache_budget
        table.on_change = functools.partial(self._report_change, table)
        self.tables[table.sobject.name.lower()] = table

    def _report_change(self, table: Table, change: Change) -> None:
        for listener in self.change_listeners:
            listener(self, table, change)

    def table(self, name: str) -> Table | None:
        """Return the table of object `name` (case-insensitive), or None if the org has no such object."""
        return self.tables.get(name.lower())

    def user(self, username: str) -> User | None:
        return next((u for u in self.users if u.username.lower() == username.lower()), None)

    def user_by_id(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.user_id == user_id), None)

    def next_id(self, sobject: str) -> str:
        """Return a fresh id for an object the org keeps no table for (jobs, query locators)."""
        with self.lock:
            self._serial += 1
            return self.id_templates[sobject].format(self._serial)

    def count_api_request(self) -> bool:
        """Count one API request; return False (and count nothing) when the allocation is used up."""
        with self.lock:
            if self.api_used >= self.api_max:
                return False
            self.api_used += 1
            return True

    def limit_info(self) -> str:
        """Return the `Sforce-Limit-Info` header value (REST API Developer Guide, "Limit Info Header")."""
        return f"api-usage={self.api_used}/{self.api_max}"


def _users(spec: OrgSpec, user_template: str) -> list[User]:
    domain = f"{spec.name}.orgfeed.example"
    names = ["integration", "admin", "analyst", "manager", "automated"]
    return [
        User(
            user_id=user_template.format(n + 1),
            username=f"{who}@{domain}",
            password=derived_secret(spec.seed, spec.name, f"password/{who}", 16),
            security_token=derived_secret(spec.seed, spec.name, f"token/{who}", 24),
            display_name=f"{who.title()} User",
        )
        for n, who in enumerate(names)
    ]
