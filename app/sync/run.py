"""One sync run: the only module that joins app.salesforce and app.warehouse.

Orgs sync in parallel, and within an org up to `[sync] workers` objects at once. Every object
is held by an advisory lock, so two `orgfeed sync` processes never work on the same one. Rows
and the watermark commit in the same transaction. A failing object never stops the others,
and a failing org never stops the other orgs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.config import MappingConfig, OrgConfig, Settings
from app.salesforce import ApiLimitReached, BulkJobFailed, DownloadInterrupted, SalesforceError
from app.salesforce.bulk import iter_bulk_pages
from app.salesforce.client import OrgClient, RetryPolicy
from app.salesforce.describe import SYSTEM_FIELDS, Field, describe_sobject, selectable_fields
from app.salesforce.extract import count_records, deleted_ids, ids_from_csv_pages, iter_query_pages
from app.salesforce.soql import build_count, build_select
from app.sync.report import EventSink, ObjectReport, SyncEvent, SyncOptions, SyncReport, mapping_status, run_status
from app.warehouse import DatabaseUnreachable, WarehouseError
from app.warehouse.audit import prune_access_log
from app.warehouse.database import database_unavailable, describe_connection_error
from app.warehouse.load import LoadResult, RowError, copy_csv_into, count_rows, find_missing, tombstone, upsert_csv
from app.warehouse.locks import IDLE_TIMEOUT_SECONDS, LockSession, find_lock_holder
from app.warehouse.policy import HASHED_TYPE, FieldPolicy, mapping_policy, policy_comment
from app.warehouse.shadow import create_shadow, swap_shadow
from app.warehouse.state import (
    LogEntry,
    finish_run,
    finish_run_object,
    read_mapping_state,
    read_org_state,
    record_org,
    save_mapping_state,
    start_run,
    start_run_object,
    write_log,
)
from app.warehouse.tables import ensure_org_schema, ensure_table, set_column_comments
from app.warehouse.types import Column, SourceField, column_for

MAX_ROW_ERRORS_LOGGED = 100  # per object and run; the rest are counted in one summary entry
PAGE_ATTEMPTS = 3  # a result page whose download breaks off is fetched again from its locator
DELETED_RETENTION = timedelta(days=29)  # the `deleted` endpoint looks back at most 30 days
PRUNE_SECONDS = 3600  # how often the worker deletes access-log entries past `[sync] access_log_days`
T = TypeVar("T")
DATABASE_WAIT_SECONDS = 30.0  # how long a run's bookkeeping waits out a database restart before giving up
WATCH_RETRY_SECONDS = 10.0  # `sync --watch` tries again this soon after a round the database was down for


def run_sync(
    settings: Settings,
    engine: Engine,
    options: SyncOptions = SyncOptions(),
    *,
    on_event: EventSink = lambda event: None,
    stop: threading.Event | None = None,
) -> SyncReport:
    """Syncs the selected orgs and objects once; `stop` ends the run after the current transaction."""
    stop = stop or threading.Event()
    orgs = [org for org in settings.orgs if org.is_loaded and (not options.orgs or org.name in options.orgs)]

    def begin_run(conn: Connection) -> int:
        run_id = start_run(conn, full=options.full)
        for org in orgs:
            record_org(conn, org.name)
        return run_id

    run_id = commit_when_available(engine, stop, begin_run)
    locks = LockSession(engine)
    run = _Run(settings, engine, options, on_event, stop, run_id, locks)
    report = SyncReport(run_id)
    status = "interrupted"  # what the run row says if something escapes below (a second Ctrl-C, a lost database)
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(orgs)), thread_name_prefix="org") as pool:
            for reports in pool.map(run.sync_org, orgs):
                report.objects.extend(reports)
        run.after_sync()
        status = "interrupted" if stop.is_set() else ("succeeded" if report.ok else "failed")
    except Exception:
        status = "failed"
        raise
    finally:
        locks.close()
        counts = {
            "rows_upserted": sum(item.upserted for item in report.objects),
            "rows_tombstoned": sum(item.deleted for item in report.objects),
            "api_calls": sum(item.api_calls for item in report.objects),
        }
        try:
            commit_when_available(engine, stop, lambda conn: finish_run(conn, run_id, status, **counts))
        except DatabaseUnreachable as error:  # the report still says what happened; the run row stays "running"
            logging.getLogger(__name__).warning("sync run %s: its end could not be recorded: %s", run_id, error)
    return report


def commit_when_available(engine: Engine, stop: threading.Event, write: Callable[[Connection], T]) -> T:
    """What `write` returns, run in a transaction of its own, retried while the database restarts.

    Waits out an unavailable database (down, restarting, failing over) for DATABASE_WAIT_SECONDS,
    not at all once `stop` is set; then raises DatabaseUnreachable. Other errors propagate.
    """
    deadline, delay = time.monotonic() + DATABASE_WAIT_SECONDS, 0.5
    while True:
        try:
            with engine.begin() as conn:
                return write(conn)
        except Exception as error:
            if not database_unavailable(error):
                raise
            if stop.is_set() or time.monotonic() + delay > deadline:
                reason = describe_connection_error(getattr(error, "orig", None) or error)
                raise DatabaseUnreachable(f"the database is unavailable: {reason}") from error
        stop.wait(delay)
        delay = min(delay * 2, 5.0)


def watch_sync(
    settings: Settings,
    engine: Engine,
    options: SyncOptions,
    *,
    on_event: EventSink,
    on_report: Callable[[SyncReport], None],
    stop: threading.Event,
) -> None:
    """Syncs each mapping again every `poll_seconds` until `stop` is set; only the first round honours `full`.

    Streamed mappings (`stream = true`) also get a Change Data Capture stream (app.sync.stream) for as long.
    A round the database is unavailable for is reported as a "Retrying" log event and tried again
    after WATCH_RETRY_SECONDS: the worker outlives database restarts and failovers.
    """
    from app.sync.stream import resumable_objects, start_streams

    streams = start_streams(settings, engine, options, on_event=on_event, stop=stop)
    # A stream that resumes from its replay id misses nothing: its safety-net poll waits a full poll_seconds.
    last_started: dict[str, float] = dict.fromkeys(resumable_objects(settings, engine), time.monotonic())
    last_pruned = float("-inf")
    while not stop.is_set():
        now = time.monotonic()
        if now - last_pruned >= PRUNE_SECONDS:
            last_pruned = now
            _prune_access_log(settings, engine)
        due = [
            mapping
            for mapping in settings.mappings
            if (not options.objects or mapping.object in options.objects)
            and now - last_started.get(mapping.object, float("-inf")) >= mapping.poll_seconds
        ]
        if due:
            for mapping in due:
                last_started[mapping.object] = now
            objects = tuple(mapping.object for mapping in due)
            try:
                on_report(run_sync(settings, engine, replace(options, objects=objects), on_event=on_event, stop=stop))
            except DatabaseUnreachable as error:
                on_event(
                    SyncEvent(
                        "log", "-", status="Retrying", message=f"{error}; next try in {WATCH_RETRY_SECONDS:.0f} s"
                    )
                )
                for mapping in due:  # due again after the retry delay, not after a whole poll interval
                    last_started[mapping.object] = now - mapping.poll_seconds + WATCH_RETRY_SECONDS
                stop.wait(WATCH_RETRY_SECONDS)
                continue
            options = replace(options, full=False, since=None, reconcile=False)
        waits = [
            last_started.get(mapping.object, now) + mapping.poll_seconds - time.monotonic()
            for mapping in settings.mappings
            if not options.objects or mapping.object in options.objects
        ]
        stop.wait(max(1.0, min(waits, default=60.0)))
    for thread in streams:
        thread.join(timeout=20)  # each commits or abandons its batch's transaction, then stops


def _prune_access_log(settings: Settings, engine: Engine) -> None:
    """Deletes access-log entries past `[sync] access_log_days`; a database that is away is tried next time."""
    try:
        with engine.begin() as conn:
            prune_access_log(conn, timedelta(days=settings.sync.access_log_days))
    except SQLAlchemyError as error:
        logging.getLogger(__name__).warning("access log not pruned: %s", error)


def mappings_for(settings: Settings, org: OrgConfig, objects: tuple[str, ...] = ()) -> list[MappingConfig]:
    """The mappings that apply to `org`, optionally narrowed to `objects` (case-insensitive)."""
    wanted = {name.lower() for name in objects}
    return [
        mapping
        for mapping in settings.mappings
        if (mapping.orgs is None or org.name in mapping.orgs) and (not wanted or mapping.object.lower() in wanted)
    ]


@dataclass
class _Run:
    settings: Settings
    engine: Engine
    options: SyncOptions
    on_event: EventSink
    stop: threading.Event
    run_id: int
    locks: LockSession

    schema_changed: bool = False
    current: threading.local = field(default_factory=threading.local)  # the object this thread syncs

    def after_sync(self) -> None:
        """Keeps the views in step with the tables: auto-apply or report stale ones, refresh materialized ones."""
        from app.views.lifecycle import update_views_after_sync

        try:
            outcome = update_views_after_sync(self.engine, self.settings)
        except Exception as error:
            if not database_unavailable(error):
                raise
            self.log("*", None, "Views", "Failed", _unavailable(error, "views not updated"), error_code=UNAVAILABLE)
            return
        if outcome.applied:
            self.log("*", None, "Views", "Succeeded", f"applied changed views: {', '.join(outcome.applied)}")
        if outcome.stale and self.schema_changed:
            self.log(
                "*",
                None,
                "Views",
                "Warning",
                f"views no longer match their tables: {', '.join(outcome.stale)}; run `orgfeed views generate` "
                "and `orgfeed views apply`, or set auto_apply_views = true",
                error_code="VIEWS_STALE",
            )
        if outcome.error:
            self.log("*", None, "Views", "Failed", outcome.error, error_code="VIEWS_FAILED")

    def log(
        self,
        org: str,
        sobject: str | None,
        action: str,
        status: str,
        message: str,
        *,
        error_code: str | None = None,
        record_id: str | None = None,
    ) -> None:
        """Writes one sync-log entry in its own transaction (it survives a rolled-back load).

        While the database is unavailable the entry waits (commit_when_available), then goes to the
        process log only: the event and the run's report still carry it.
        """
        entry = LogEntry(
            org=org,
            sobject=sobject,
            record_id=record_id,
            action=action,
            status=status,
            error_code=error_code,
            message=message,
            run_id=self.run_id,
        )
        try:
            commit_when_available(self.engine, self.stop, lambda conn: write_log(conn, entry))
        except DatabaseUnreachable as error:
            logging.getLogger(__name__).warning("sync log entry not written (%s): %s", error, entry)
        self.on_event(SyncEvent("log", org, sobject, status=status, message=message))

    def sync_org(self, org: OrgConfig) -> list[ObjectReport]:
        mappings = mappings_for(self.settings, org, self.options.objects)
        reports = [ObjectReport(org.name, mapping.object) for mapping in mappings]
        try:
            with self.engine.connect() as conn:
                state = read_org_state(conn, org.name)
        except Exception as error:
            if not database_unavailable(error):
                raise
            message = _unavailable(error, "the org was not synced")
            self.log(org.name, None, "Login", "Failed", message, error_code=UNAVAILABLE)
            return [replace(report, status="failed", message=message) for report in reports]
        if state.suspended:
            return [replace(report, status="skipped", message="org suspended") for report in reports]
        now = datetime.now(UTC)
        if state.throttled_until is not None and state.throttled_until > now:
            return [
                replace(report, status="skipped", message=f"throttled until {state.throttled_until:%H:%M} UTC")
                for report in reports
            ]
        try:
            client = OrgClient(
                org,
                retry=RetryPolicy(read_timeout=float(self.settings.sync.request_timeout_seconds)),
                on_retry=lambda action, attempt, reason, delay: self.log(
                    org.name,
                    getattr(self.current, "sobject", None),
                    _log_action(action),
                    "Retrying",
                    f"attempt {attempt} failed ({reason}); retrying in {delay:.1f} s",
                ),
            )
            with self.engine.begin() as conn:
                ensure_org_schema(conn, org.name, client.org_id or "", org.name)
                record_org(conn, org.name, client.org_id)
            client.read_limits()
        except ApiLimitReached as error:
            self.log(org.name, None, "Login", "Throttled", str(error), error_code=error.error_code)
            return [replace(report, status="throttled", message=str(error)) for report in reports]
        except (SalesforceError, WarehouseError) as error:
            self.log(org.name, None, "Login", "Failed", str(error), error_code=getattr(error, "error_code", None))
            return [replace(report, status="failed", message=str(error)) for report in reports]
        except Exception as error:  # noqa: BLE001 - one org's surprise must not stop the other orgs; logged
            unavailable = database_unavailable(error)
            message = (
                _unavailable(error, "the org was not synced") if unavailable else _unexpected(error, f"org {org.name}")
            )
            self.log(
                org.name, None, "Login", "Failed", message, error_code=UNAVAILABLE if unavailable else "INTERNAL_ERROR"
            )
            return [replace(report, status="failed", message=message) for report in reports]
        workers = max(1, min(self.settings.sync.workers, len(mappings)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{org.name}-object") as pool:
            return list(pool.map(lambda item: self.sync_object(org, client, *item), zip(mappings, reports)))

    def sync_object(
        self, org: OrgConfig, client: OrgClient, mapping: MappingConfig, report: ObjectReport
    ) -> ObjectReport:
        if self.stop.is_set():
            report.status = "interrupted"
            return report
        started = datetime.now(UTC)
        self.current.sobject = mapping.object
        calls_before = client.calls_in_this_thread()
        self.on_event(SyncEvent("start", org.name, mapping.object))
        run_object_started = False
        try:
            lock = self.locks.acquire(org.name, mapping.object)
        except Exception as error:
            if not database_unavailable(error):
                raise
            report.status, report.message = "failed", _unavailable(error, "the object was not synced")
            self.log(org.name, mapping.object, "Sync", "Failed", report.message, error_code=UNAVAILABLE)
            return self._finish_event(report)
        if lock is None:
            return self._locked_elsewhere(report)
        with lock:
            self.current.lock = lock
            try:
                commit_when_available(
                    self.engine, self.stop, lambda conn: start_run_object(conn, self.run_id, org.name, mapping.object)
                )
                run_object_started = True
                self._load_object(org, client, mapping, report)
                report.status = "interrupted" if self.stop.is_set() else "succeeded"
            except _Interrupted as error:
                report.status, report.message = "interrupted", str(error)
            except ApiLimitReached as error:
                report.status, report.message = "throttled", str(error)
                self.log(org.name, mapping.object, "Sync", "Throttled", str(error), error_code=error.error_code)
            except (SalesforceError, WarehouseError) as error:
                report.status, report.message = "failed", str(error)
                self.log(
                    org.name,
                    mapping.object,
                    "Sync",
                    "Failed",
                    str(error),
                    error_code=getattr(error, "error_code", None),
                )
            except Exception as error:  # noqa: BLE001 - one object's surprise must not stop the others; logged
                if database_unavailable(error):  # a restart or failover: the next run starts over from the watermark
                    report.status, report.message = "failed", _unavailable(error, "the next run retries this object")
                    self.log(org.name, mapping.object, "Sync", "Failed", report.message, error_code=UNAVAILABLE)
                else:
                    report.status = "failed"
                    report.message = _unexpected(error, f"org {org.name}, object {mapping.object}")
                    self.log(org.name, mapping.object, "Sync", "Failed", report.message, error_code="INTERNAL_ERROR")
            finally:
                self.current.lock = None
                report.api_calls = client.calls_in_this_thread() - calls_before
                report.seconds = (datetime.now(UTC) - started).total_seconds()
                try:
                    commit_when_available(
                        self.engine, self.stop, lambda conn: self._record_object(conn, report, run_object_started)
                    )
                except DatabaseUnreachable as error:  # the report says how the object ended; the next run redoes it
                    logging.getLogger(__name__).warning(
                        "%s.%s: state not recorded: %s", org.name, mapping.object, error
                    )
        return self._finish_event(report)

    def _record_object(self, conn: Connection, report: ObjectReport, run_object_started: bool) -> None:
        """Records how `report`'s object ended: its sync_run_objects row (when it was started) and its mapping state."""
        if run_object_started:
            finish_run_object(
                conn,
                self.run_id,
                report.org,
                report.sobject,
                run_status(report.status),
                rows_upserted=report.upserted,
                rows_tombstoned=report.deleted,
                api_calls=report.api_calls,
                error=report.message or None,
            )
        save_mapping_state(
            conn, report.org, report.sobject, status=mapping_status(report.status), last_error=report.message or None
        )

    def _locked_elsewhere(self, report: ObjectReport) -> ObjectReport:
        """Reports and logs an object another sync holds: not synced by this run, and not a success.

        The holder (a second worker dyno, a sync started by hand) syncs it, so nothing is lost; the
        mapping's state is the holder's to write. The run's exit status says so (EXIT_LOCKED).
        """
        try:
            with self.engine.connect() as conn:
                holder = find_lock_holder(conn, report.org, report.sobject)
        except Exception as error:
            if not database_unavailable(error):
                raise
            holder = None
        who = (
            f"{holder.application_name}, since {holder.since.astimezone(UTC):%H:%M:%S} UTC"
            if holder and holder.since
            else "a sync whose session this database user cannot see"
        )
        report.status = "locked"
        report.message = (
            f"not synced by this run: another sync holds this object ({who}). If another worker or "
            "`orgfeed sync` is running, it syncs the object and nothing is lost; otherwise its lock ends with its "
            f"database session (at once when its process exits, within {IDLE_TIMEOUT_SECONDS:.0f} s when it hangs): "
            "run the sync again"
        )
        self.log(report.org, report.sobject, "Sync", "Warning", report.message, error_code="LOCKED_BY_ANOTHER_SYNC")
        return self._finish_event(report)

    def _finish_event(self, report: ObjectReport) -> ObjectReport:
        self.on_event(
            SyncEvent(
                "finish", report.org, report.sobject, rows=report.upserted, status=report.status, message=report.message
            )
        )
        return report

    def _check_lock(self) -> None:
        """Raises MappingLockLost when this thread's object lost its lock (checked between pages)."""
        lock = getattr(self.current, "lock", None)
        if lock is not None:
            lock.check()

    def _load_object(self, org: OrgConfig, client: OrgClient, mapping: MappingConfig, report: ObjectReport) -> None:
        client.check_budget()
        with self.engine.connect() as conn:
            cached = read_mapping_state(conn, org.name, mapping.object)
        sobject, body = describe_sobject(
            client, mapping.object, cached=cached.describe_body, modified=cached.describe_modified
        )
        fields, missing = selectable_fields(sobject, mapping.fields)
        for name in missing:
            self.log(
                org.name,
                mapping.object,
                "Describe",
                "Warning",
                f"field {name} is not in the describe (removed, or hidden from the integration user): not selected",
                error_code="FIELD_NOT_FOUND",
            )
        policy = mapping_policy(
            mapping.hash,
            mapping.redact,
            {field_.name: field_.type for field_ in fields},
            self.settings.hash_key,
            where=f"org {org.name!r}, object {mapping.object}",
        )
        columns, unstored = self._columns(fields, policy)
        with self.engine.begin() as conn:
            changes = ensure_table(conn, org.name, mapping.object, columns)
            state = read_mapping_state(conn, org.name, mapping.object)
        policy_changed = (state.field_policy or "") != policy.fingerprint()
        if policy_changed and state.watermark is not None:
            self.log(
                org.name,
                mapping.object,
                "Policy",
                "Succeeded",
                "the field policy changed: reloading every row under the new one",
            )
        if changes.created or changes.added:  # said once, when the table takes its shape, not every run
            for field_ in unstored:
                self.log(
                    org.name,
                    mapping.object,
                    "Describe",
                    "Warning",
                    f"field {field_.name} is base64: file bodies are not mirrored",
                    error_code="UNSUPPORTED_TYPE",
                )
            for column in changes.text_fallbacks:
                self.log(
                    org.name,
                    mapping.object,
                    "Describe",
                    "Warning",
                    f"column {column}: its field's type is unknown to orgfeed: stored as text",
                    error_code="UNKNOWN_TYPE",
                )
        for column, old, new in changes.incompatible:
            self.log(
                org.name,
                mapping.object,
                "Schema",
                "Warning",
                f"column {column} is {old} but the field is now {new}: not altered "
                "(values that do not fit are logged per row)",
                error_code="TYPE_CHANGED",
            )
        if (changes.added and not changes.created) or changes.widened:
            self.schema_changed = True  # drift in an existing table: views over it may be out of date
        for column, old, new in changes.widened:
            self.log(org.name, mapping.object, "Schema", "Succeeded", f"column {column} widened from {old} to {new}")
        backfill = bool(changes.added) and not changes.created
        if backfill:
            self.log(
                org.name,
                mapping.object,
                "Schema",
                "Succeeded",
                f"new columns {', '.join(changes.added)}: reloading to fill them",
            )
        # Select exactly what is stored: base64 bodies and compound parents stay out (Bulk refuses binaries).
        names = [field_.name for field_ in fields if field_.name in SYSTEM_FIELDS] + [
            column.field for column in columns
        ]
        total = count_records(client, build_count(mapping.object))
        if self.options.full or state.watermark is None or backfill or policy_changed:
            report.mode = "full"
            self._full_load(org, client, mapping.object, names, columns, total, report, policy)
        else:
            report.mode = "incremental"
            self._incremental(org, client, mapping.object, names, state.watermark, report, policy)
            self._apply_deleted(org, client, mapping.object, state.last_sync_at, report)
            reconcile_due = state.last_reconcile_at is None or (
                datetime.now(UTC) - state.last_reconcile_at >= timedelta(hours=self.settings.sync.reconcile_hours)
            )
            if self.options.reconcile or reconcile_due:
                self._reconcile(org, client, mapping.object, total, report)
        with self.engine.begin() as conn:
            _database_rows, errored = count_rows(conn, org.name, mapping.object)
            save_mapping_state(
                conn,
                org.name,
                mapping.object,
                mapped_fields=len(fields),
                salesforce_rows=total,
                last_sync_at=datetime.now(UTC),
                describe_modified=sobject.last_modified,
                describe_body=body,
            )
        report.errored = errored

    @staticmethod
    def _columns(fields: Iterable[Field], policy: FieldPolicy) -> tuple[list[Column], list[Field]]:
        """(the columns to store, the base64 fields left out); system fields are system columns.

        A hashed field is stored as its hex digest, whatever its Salesforce type.
        """
        columns, unstored = [], []
        for field_ in fields:
            if field_.name in SYSTEM_FIELDS:
                continue
            column = column_for(SourceField(field_.name, field_.type, field_.length, field_.precision, field_.scale))
            if column is None:
                if field_.type == "base64":
                    unstored.append(field_)
                continue
            if policy.applies_to(field_.name) == "hash":
                column = replace(column, sql_type=HASHED_TYPE, fallback=False)
            columns.append(column)
        return columns, unstored

    def _full_load(
        self,
        org: OrgConfig,
        client: OrgClient,
        sobject: str,
        names: list[str],
        columns: list[Column],
        total: int,
        report: ObjectReport,
        policy: FieldPolicy,
    ) -> None:
        """Loads every row into a shadow table and swaps it in: readers never see the table empty.

        The policy's fingerprint is saved with the swap, so a changed policy counts as applied only once
        every stored row was loaded under it.
        """
        soql = build_select(sobject, names, modified_since=self.options.since)
        self.on_event(SyncEvent("rows", org.name, sobject, rows=0, total=total))
        use_bulk = total > self.settings.sync.bulk_threshold
        with self.engine.begin() as conn:
            shadow = create_shadow(conn, org.name, sobject, columns)
            loaded = 0
            newest: datetime | None = None
            errors: list[RowError] = []
            for open_page in self._pages(org, client, soql, names, bulk=use_bulk, include_deleted=True):
                result = self._load_page(conn, org, sobject, shadow, open_page, policy)
                client.check_budget()
                loaded += result.rows
                errors.extend(result.errors)
                newest = max(filter(None, (newest, result.max_systemmodstamp)), default=None)
                self.on_event(SyncEvent("rows", org.name, sobject, rows=loaded, total=total))
                if self.stop.is_set():
                    raise _Interrupted()
                self._check_lock()
            self._check_lock()
            swap_shadow(conn, org.name, sobject, hard_delete=org.delete_mode == "hard")
            set_column_comments(
                conn,
                org.name,
                sobject,
                {
                    column.name: policy_comment(action) if (action := policy.applies_to(column.field)) else None
                    for column in columns
                },
            )
            save_mapping_state(
                conn,
                org.name,
                sobject,
                watermark=newest,
                last_full_sync_at=datetime.now(UTC),
                last_reconcile_at=datetime.now(UTC),
                field_policy=policy.fingerprint(),
            )
        report.upserted = loaded
        self._log_row_errors(org, sobject, errors)

    def _load_page(
        self,
        conn: Connection,
        org: OrgConfig,
        sobject: str,
        shadow: str,
        open_page: Callable[[], Iterable[bytes]],
        policy: FieldPolicy,
    ) -> LoadResult:
        """COPYs one page (its policy fields protected) into the shadow table in a savepoint, again if it breaks."""
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            savepoint = conn.begin_nested()
            try:
                result = copy_csv_into(conn, org.name, shadow, policy.protect_csv(open_page()))
            except DownloadInterrupted as error:
                savepoint.rollback()
                if attempt == PAGE_ATTEMPTS:
                    raise
                self.log(
                    org.name,
                    sobject,
                    "Load",
                    "Retrying",
                    f"{error}; fetching the page again (attempt {attempt + 1})",
                    error_code=error.error_code,
                )
                continue
            savepoint.commit()
            return result
        raise AssertionError("unreachable")

    def _pages(
        self, org: OrgConfig, client: OrgClient, soql: str, names: list[str], *, bulk: bool, include_deleted: bool
    ) -> Iterator[Callable[[], Iterable[bytes]]]:
        """Openers of the CSV documents of `soql`: Bulk 2.0 pages, or REST pages when small or when a Bulk job fails.

        A Bulk job failing before its first page falls back to REST; once rows have arrived the
        failure propagates (the caller's transaction rolls back and the next run starts over).
        """
        if bulk:
            delivered = False
            try:
                for page in iter_bulk_pages(client, soql, include_deleted=include_deleted):
                    delivered = True
                    yield page.open
                return
            except BulkJobFailed as error:
                if delivered:
                    raise
                self.log(
                    org.name,
                    getattr(self.current, "sobject", None),
                    "Bulk",
                    "Warning",
                    f"{error}; falling back to REST",
                    error_code=error.error_code,
                )
        for query_page in iter_query_pages(client, soql, names, include_deleted=include_deleted):

            def open_page(csv_bytes: bytes = query_page.csv) -> Iterable[bytes]:
                return [csv_bytes]

            yield open_page

    def _incremental(
        self,
        org: OrgConfig,
        client: OrgClient,
        sobject: str,
        names: list[str],
        watermark: datetime,
        report: ObjectReport,
        policy: FieldPolicy,
    ) -> None:
        """Upserts rows modified since watermark - lookback (policy fields protected), each page with its watermark."""
        since = watermark - timedelta(minutes=self.settings.sync.lookback_minutes)
        soql = build_select(sobject, names, modified_since=since, order_by_modstamp=True)
        errors: list[RowError] = []
        for page in iter_query_pages(client, soql, names, include_deleted=True):
            self._check_lock()
            with self.engine.begin() as conn:
                chunks = policy.protect_csv([page.csv])
                result = upsert_csv(conn, org.name, sobject, chunks, hard_delete=org.delete_mode == "hard")
                if result.max_systemmodstamp is not None:
                    save_mapping_state(conn, org.name, sobject, watermark=result.max_systemmodstamp)
            report.upserted += result.inserted + result.updated
            report.deleted += result.deleted
            client.check_budget()
            errors.extend(result.errors)
            self.on_event(SyncEvent("rows", org.name, sobject, rows=report.upserted, total=page.total_size))
            if self.stop.is_set():
                break
        self._log_row_errors(org, sobject, errors)

    def _apply_deleted(
        self, org: OrgConfig, client: OrgClient, sobject: str, last_sync_at: datetime | None, report: ObjectReport
    ) -> None:
        """Tombstones rows the `deleted` endpoint reports (it still lists records purged from the recycle bin)."""
        if last_sync_at is None or self.stop.is_set():
            return
        end = datetime.now(UTC)
        start = max(last_sync_at - timedelta(minutes=self.settings.sync.lookback_minutes), end - DELETED_RETENTION)
        try:
            ids, _ = deleted_ids(client, sobject, start, end)
        except SalesforceError as error:
            self.log(
                org.name,
                sobject,
                "Delete",
                "Warning",
                f"{error}; the next reconciliation will catch deletes",
                error_code=error.error_code,
            )
            return
        if ids:
            with self.engine.begin() as conn:
                report.deleted += tombstone(conn, org.name, sobject, ids, hard=org.delete_mode == "hard")

    def _reconcile(self, org: OrgConfig, client: OrgClient, sobject: str, total: int, report: ObjectReport) -> None:
        """Compares every live Id with the table and tombstones rows deleted or purged without a trace."""
        soql = build_select(sobject, ["Id"])
        live = ids_from_csv_pages(
            self._pages(
                org, client, soql, ["Id"], bulk=total > self.settings.sync.bulk_threshold, include_deleted=False
            )
        )
        with self.engine.begin() as conn:
            missing = find_missing(conn, org.name, sobject, live)
            if missing:
                report.deleted += tombstone(conn, org.name, sobject, missing, hard=org.delete_mode == "hard")
            save_mapping_state(conn, org.name, sobject, last_reconcile_at=datetime.now(UTC))
        if missing:
            self.log(
                org.name,
                sobject,
                "Reconcile",
                "Resolved",
                f"{len(missing)} rows no longer in Salesforce (hard-deleted or purged) were marked deleted",
            )

    def _log_row_errors(self, org: OrgConfig, sobject: str, errors: list) -> None:
        for error in errors[:MAX_ROW_ERRORS_LOGGED]:
            self.log(
                org.name,
                sobject,
                "Upsert",
                "Failed",
                f"column {error.column}: {error.message} (value {error.value[:80]!r}); stored as null, see _hc_err",
                error_code="VALUE_DOES_NOT_FIT",
                record_id=error.sfid,
            )
        if len(errors) > MAX_ROW_ERRORS_LOGGED:
            self.log(
                org.name,
                sobject,
                "Upsert",
                "Failed",
                f"{len(errors) - MAX_ROW_ERRORS_LOGGED} more rows had values that do not fit; see _hc_err",
                error_code="VALUE_DOES_NOT_FIT",
            )


class _Interrupted(WarehouseError):
    """A stop request arrived during a full load: its transaction is rolled back, nothing half-loaded stays."""

    def __init__(self) -> None:
        super().__init__("interrupted by a stop request; the full load will start over next run")


UNAVAILABLE = "DATABASE_UNAVAILABLE"


def _unavailable(error: Exception, consequence: str) -> str:
    """The sync-log message for a database that went away (restart, failover, network): not a bug, retried next run."""
    reason = describe_connection_error(getattr(error, "orig", None) or error)
    return f"the database is unavailable ({reason}): {consequence}"


def _unexpected(error: Exception, where: str) -> str:
    """The message for an error nobody anticipated: logged with its traceback, summarised for the sync log."""
    logging.getLogger(__name__).error("%s: unexpected error", where, exc_info=error)
    return f"unexpected {type(error).__name__}: {error} (a bug in orgfeed: the traceback is in the process log)"


def _log_action(action: str) -> str:
    """A client call's name as a sync-log action (at most 32 characters): "queryAll SELECT Id, …" becomes "queryAll"."""
    return action if len(action) <= 32 else action.split(" ", 1)[0][:32]
