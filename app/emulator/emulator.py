"""The Emulator: several orgs behind one HTTPS server, and every control action as a method.

emu = Emulator(demo_orgs(rows=300, seed=7))
emu.start()                       # https://127.0.0.1:<free port>, CA bundle in emu.ca_bundle
emu.delete("amer", "Employee", [some_id]); emu.advance_clock(3600)
emu.stop()
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

from app.emulator.approvals import ApprovalStore
from app.emulator.bulk import BulkJobs
from app.emulator.bulk1 import AsyncJobs
from app.emulator.clock import Clock
from app.emulator.errors import ControlError, SalesforceError
from app.emulator.faults import Fault, FaultBook
from app.emulator.oauth import Authority
from app.emulator.org import Org, OrgSpec
from app.emulator.pubsub.bus import EventBus
from app.emulator.pubsub.service import PubSubServer, PubSubService
from app.emulator.query import CursorStore
from app.emulator.records import (
    create_record,
    delete_record,
    purge_records,
    undelete_record,
    update_record,
)
from app.emulator.schema import Field
from app.emulator.schema_changes import add_field, remove_field, retype_field
from app.emulator.seed import SeedContext, seed_table
from app.emulator.server import HttpsServer
from app.emulator.sessions import SessionStore
from app.emulator.table import CacheBudget, Table
from app.emulator.validation import ValidationRule
from app.emulator.warmup import warm_bulk_cache

P = ParamSpec("P")
T = TypeVar("T")


class Emulator:
    """Emulated Salesforce orgs, their HTTPS endpoints and the control API."""

    def __init__(self, orgs: Iterable[OrgSpec], run_dir: str | Path | None = None) -> None:
        self.specs = {spec.name: spec for spec in orgs}
        self.cache_budget = CacheBudget()
        self.orgs = {name: Org(spec, self.cache_budget) for name, spec in self.specs.items()}
        self.clock = Clock()
        self.sessions = SessionStore(self.clock)
        self.approvals = ApprovalStore(self.clock)
        for org in self.orgs.values():
            self.approvals.issue_refresh_token(org.name, org.app.client_id, org.users[0].user_id, org.app.refresh_token)
        self.faults = FaultBook()
        self.cursors = CursorStore()
        self.jobs = BulkJobs()
        self.async_jobs = AsyncJobs()  # Bulk API 1.0
        self.bus = EventBus(self.clock)  # Change Data Capture events of every write, served by self.pubsub
        for org in self.orgs.values():
            self.bus.watch(org)
        self.pubsub: PubSubServer | None = None
        self.validation_rules: dict[tuple[str, str], list[ValidationRule]] = {}
        self._own_run_dir = run_dir is None
        self.run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="orgfeed-emulator-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._server: HttpsServer | None = None

    # -- server -------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0, warm: bool = True) -> Self:
        """Serve HTTPS on a background thread (port 0: any free port); return self.

        With `warm`, objects of 50,000 rows or more first get their full-load Bulk CSV rendered
        (warm_bulk_cache), so that Bulk downloads never wait for rendering.
        """
        from app.emulator.app import (
            create_app,  # the app needs a started emulator's base URL
        )

        if warm:
            self.warm_bulk_cache()
        self._server = HttpsServer(create_app(self), host, port, self.run_dir)
        for org in self.orgs.values():  # the JWT keys, for clients that want a key file
            key_path = self._key_path(org)
            key_path.write_text(org.app.private_key_pem)
            key_path.chmod(0o600)
        self._server.start()
        self.pubsub = _pubsub_server(self, host)
        self.pubsub.start()
        return self

    def _key_path(self, org: Org) -> Path:
        return self.run_dir / f"{org.name}-jwt-key.pem"

    def stop(self) -> None:
        """Stop serving; a run directory the emulator made itself (CA bundle, keys) is removed."""
        if self.pubsub is not None:
            self.pubsub.stop()
            self.pubsub = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The login URL and instance URL of every org."""
        if self._server is None:
            raise ControlError("the emulator is not started: call start() first")
        return self._server.base_url

    @property
    def ca_bundle(self) -> Path:
        if self._server is None:
            raise ControlError("the emulator is not started: call start() first")
        return self._server.ca_bundle

    def authority(self) -> Authority:
        """Return what the OAuth endpoints consult (the started emulator's orgs, sessions and approvals)."""
        return Authority(list(self.orgs.values()), self.sessions, self.approvals, self.clock, self.base_url)

    def warm_bulk_cache(self, min_rows: int = 50_000) -> int:
        """Render ahead the Bulk CSV a full load selects, for objects of `min_rows` rows or more.

        See warmup.py; returns the rows rendered. Before start() it uses every core.
        """
        return warm_bulk_cache(list(self.orgs.values()), min_rows)

    # -- orgs and sessions --------------------------------------------------------------------
    def org(self, name: str) -> Org:
        try:
            return self.orgs[name]
        except KeyError:
            raise ControlError(f"no org {name!r}; the emulator hosts {', '.join(self.orgs)}") from None

    def table(self, org: str, sobject: str) -> Table:
        table = self.org(org).table(sobject)
        if table is None:
            raise ControlError(f"org {org!r} has no object {sobject!r}")
        return table

    def describe_orgs(self) -> list[dict[str, object]]:
        """Return each org's identity, URLs and credentials for every grant (the control API's org list).

        Keys per grant: `client_credentials`, `password`, `jwt`, `refresh_token` (a refresh token the
        integration user approved) and `authorization_code` (the web server flow's client, redirect
        URI and authorize URL).
        """
        return [self._org_summary(org) for org in self.orgs.values()]

    def _org_summary(self, org: Org) -> dict[str, object]:
        user = org.users[0]
        base = self.base_url if self._server else None
        return {
            "name": org.name,
            "geo": org.spec.geo,
            "company": org.spec.company,
            "org_id": org.org_id,
            "locale": org.spec.locale,
            "login_url": base,
            "instance_url": base,
            "pubsub_url": self.pubsub.url if self.pubsub else None,
            "objects": {t.sobject.name: t.size for t in org.tables.values()},
            "client_credentials": {"client_id": org.app.client_id, "client_secret": org.app.client_secret},
            "password": {
                "client_id": org.app.client_id,
                "client_secret": org.app.client_secret,
                "username": user.username,
                "password": user.password,
                "security_token": user.security_token,
            },
            "jwt": {
                "client_id": org.app.client_id,
                "username": user.username,
                "private_key_path": str(self._key_path(org)),
                "certificate_pem": org.app.certificate_pem,
            },
            "refresh_token": {
                "client_id": org.app.client_id,
                "client_secret": org.app.client_secret,
                "refresh_token": org.app.refresh_token,
            },
            "authorization_code": {
                "client_id": org.app.client_id,
                "client_secret": org.app.client_secret,
                "redirect_uri": org.app.callback_url,
                "authorize_url": f"{base}/services/oauth2/authorize" if base else None,
                "username": user.username,
            },
        }

    def session_id(self, org: str, username: str | None = None) -> str:
        """Return a fresh access token for a user of `org` (the integration user by default)."""
        target = self.org(org)
        user = target.user(username) if username else target.users[0]
        if user is None:
            raise ControlError(f"org {org!r} has no user {username!r}")
        return self.sessions.issue(target.name, target.org_id, user.user_id).token

    def expire_sessions(self) -> int:
        """End every session in every org; the next call with an old token gets INVALID_SESSION_ID."""
        return self.sessions.expire_all()

    def set_api_allocation(self, org: str, maximum: int, used: int | None = None) -> dict[str, int]:
        """Set DailyApiRequests Max (and optionally the count used so far)."""
        target = self.org(org)
        with target.lock:
            target.api_max = maximum
            if used is not None:
                target.api_used = used
            return {"Max": target.api_max, "Remaining": max(target.api_max - target.api_used, 0)}

    def advance_clock(self, seconds: float) -> datetime:
        return self.clock.advance(seconds)

    # -- faults -------------------------------------------------------------------------------
    def inject_fault(self, kind: str, path: str = "*", count: int = 1, **options: Any) -> Fault:
        """Make the next `count` requests matching `path` fail (see faults.py for kinds and options)."""
        fault = Fault(kind=kind, path=path, count=count, **options)
        self.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- change events (Pub/Sub API) -----------------------------------------------------------
    def pubsub_fault(
        self, kind: str, org: str, sobject: str | None = None, ids: Sequence[str] = (), change_type: str = "GAP_UPDATE"
    ) -> int:
        """`drop` open streams, publish a `gap` event for `ids` or an `overflow` event, `expire` replay ids."""
        self.org(org)
        if kind == "drop":
            self.bus.drop_streams(org)
            return 0
        if kind == "expire":
            return self.bus.expire_replay_ids(org)
        if kind not in ("gap", "overflow") or sobject is None:
            raise ControlError("a Pub/Sub fault is drop, expire, gap (sobject, ids) or overflow (sobject)")
        table = self.table(org, sobject)
        self.bus.publish_gap(org, table.sobject, ids, change_type if kind == "gap" else "GAP_OVERFLOW")
        return 1

    # -- records ------------------------------------------------------------------------------
    def seed(self, org: str, sobject: str, rows: int) -> int:
        """Replace an object's records with `rows` freshly generated ones (same seed, same data)."""
        target = self.org(org)
        spec = next((s for s in target.spec.objects if s.sobject.name.lower() == sobject.lower()), None)
        if spec is None:
            raise ControlError(f"org {org!r} has no object {sobject!r}")
        counts = {
            "User": len(target.users),
            **target.spec.other_counts,
            **{t.sobject.name: t.seeded for t in target.tables.values()},
            spec.sobject.name: rows,
        }
        context = SeedContext(target.spec.seed, target.name, target.spec.as_of, target.id_templates, counts)
        with target.lock:
            target.add_table(seed_table(spec, rows, context))
        return rows

    def insert(self, org: str, sobject: str, records: Sequence[Mapping[str, object]]) -> list[str]:
        """Insert records (JSON-style values; system fields allowed); return their ids in order."""
        table, target, now = self.table(org, sobject), self.org(org), self.clock.now()
        with target.lock, self.bus.transaction(org):
            return [
                _control(create_record, table, record, target.users[0].user_id, now, trusted=True) for record in records
            ]

    def update(self, org: str, sobject: str, records: Sequence[Mapping[str, object]]) -> int:
        """Update records; each mapping carries its `Id`."""
        table, target, now = self.table(org, sobject), self.org(org), self.clock.now()
        with target.lock, self.bus.transaction(org):
            for record in records:
                values = {k: v for k, v in record.items() if k != "Id"}
                _control(
                    update_record, table, str(record.get("Id")), values, target.users[0].user_id, now, trusted=True
                )
        return len(records)

    def delete(self, org: str, sobject: str, ids: Sequence[str]) -> int:
        """Move records to the recycle bin."""
        table, target, now = self.table(org, sobject), self.org(org), self.clock.now()
        with target.lock, self.bus.transaction(org):
            for record_id in ids:
                _control(delete_record, table, record_id, target.users[0].user_id, now)
        return len(ids)

    def undelete(self, org: str, sobject: str, ids: Sequence[str]) -> int:
        table, target, now = self.table(org, sobject), self.org(org), self.clock.now()
        with target.lock, self.bus.transaction(org):
            for record_id in ids:
                _control(undelete_record, table, record_id, target.users[0].user_id, now)
        return len(ids)

    def purge(self, org: str, sobject: str, ids: Sequence[str] | None = None, trim_delete_log: bool = False) -> int:
        """Empty the recycle bin (all of it, or `ids`): the records are hard-deleted."""
        table, target = self.table(org, sobject), self.org(org)
        with target.lock:
            return _control(purge_records, table, ids, self.clock.now(), trim_delete_log=trim_delete_log)

    def ids(self, org: str, sobject: str, limit: int | None = None) -> list[str]:
        """Return ids of live records in Id order (a convenience for tests)."""
        table, target = self.table(org, sobject), self.org(org)
        with target.lock:
            rows = table.rows(include_deleted=False)[:limit]
            return [table.record_id(row) for row in rows]

    def add_validation_rule(self, org: str, sobject: str, field: str, equals: object, message: str) -> ValidationRule:
        """REST API writes leaving `field` equal to `equals` (None: blank) fail FIELD_CUSTOM_VALIDATION_EXCEPTION."""
        table = self.table(org, sobject)
        described = table.sobject.field(field)
        if described is None:
            raise ControlError(f"{sobject} has no field {field!r}")
        rule = ValidationRule(described.name, equals, message)
        self.validation_rules.setdefault((org, table.sobject.name), []).append(rule)
        return rule

    def clear_validation_rules(self) -> None:
        self.validation_rules.clear()

    # -- fields -------------------------------------------------------------------------------
    def add_field(self, org: str, sobject: str, name: str, field_type: str, **attributes: Any) -> Field:
        """Add a field (e.g. add_field("amer", "Employee", "Shoe__c", "string", length=20))."""
        field = Field(
            name=name,
            label=str(attributes.pop("label", name)),
            type=field_type,
            custom=name.endswith("__c"),
            **attributes,
        )
        target = self.org(org)
        with target.lock:
            add_field(self.table(org, sobject), field, self.clock.now())
        return field

    def remove_field(self, org: str, sobject: str, name: str) -> None:
        target = self.org(org)
        with target.lock:
            remove_field(self.table(org, sobject), name, self.clock.now())

    def retype_field(
        self,
        org: str,
        sobject: str,
        name: str,
        field_type: str,
        length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
    ) -> None:
        target = self.org(org)
        with target.lock:
            retype_field(self.table(org, sobject), name, field_type, self.clock.now(), length, precision, scale)


def _pubsub_server(emulator: Emulator, host: str) -> PubSubServer:
    """The Pub/Sub API on a free port, certified by the HTTPS server's CA (clients trust the one CA bundle)."""
    assert emulator._server is not None
    leaf = emulator._server.authority.issue_cert(host, "localhost", "127.0.0.1")
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    service = PubSubService(emulator.bus, emulator.sessions, emulator.orgs, emulator.base_url)
    return PubSubServer(service, host, 0, leaf.private_key_pem.bytes(), chain)


def _control(action: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a record action for the control API, turning Salesforce errors into ControlError."""
    try:
        return action(*args, **kwargs)
    except SalesforceError as error:
        raise ControlError(f"{error.error_code}: {error.message}") from None
