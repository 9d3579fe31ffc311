"""Bulk API 1.0 query jobs: a job, its batches (one SOQL each), their states, PK chunking and result files.

Bulk API Developer Guide: "Step One: Create a Job", "Add a Batch to a Job", "Use Bulk Query",
"Interpret Batch State", "Get Batch Results", "Step Three: Close a Job", "Abort a Job" and
"PK Chunking". A job is Open until closed or aborted; each batch moves Queued -> InProgress ->
Completed (or Failed), one state per poll of the job or its batches. A batch's SOQL is checked when
it is added, but a bad one fails the batch (stateMessage), not the request. With PK chunking the
original batch ends NotProcessed and one batch per chunk of `chunkSize` record ids is added.
Result rows are fixed when the batch is added; their values are read as the result is rendered.
"""

from __future__ import annotations

import re
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.emulator.bulk import check_bulk_query
from app.emulator.errors import AsyncApiError, SalesforceError
from app.emulator.org import Org
from app.emulator.query import prepare_query
from app.emulator.soql.syntax import parse_soql
from app.emulator.soql.tokens import scan_tokens
from app.emulator.table import Table

QUERY_OPERATIONS = ("query", "queryAll")
# JobInfo's operation values; the emulator serves the query ones.
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete", *QUERY_OPERATIONS)
CONTENT_TYPES = {"CSV": "text/csv", "JSON": "application/json", "XML": "application/xml"}
UNSUPPORTED_CONTENT_TYPES = ("ZIP_CSV", "ZIP_JSON", "ZIP_XML")
# simple-salesforce's Bulk handler sends the enum's ordinal (0, 1), which Salesforce's JSON reader takes.
CONCURRENCY_MODES = {"Parallel": "Parallel", "Serial": "Serial", 0: "Parallel", 1: "Serial"}
# "PK Chunking": the objects it supports (custom objects too), the default and largest chunk.
PK_CHUNKING_OBJECTS = frozenset(
    {"Account", "Campaign", "CampaignMember", "Case", "Contact", "Lead", "LoginHistory", "Opportunity", "Task", "User"}
)
DEFAULT_CHUNK_SIZE = 100_000
MAX_CHUNK_SIZE = 250_000
ID_PATTERN = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?", re.ASCII)
MAX_JOBS = 100


@dataclass(frozen=True)
class PkChunking:
    """The Sforce-Enable-PKChunking header of a job: chunk size and the first record id."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    start_row: str | None = None


@dataclass(frozen=True)
class Chunk:
    """One PK chunk: ids from `low` (inclusive) to `high` (exclusive; None: to the end), and its rows."""

    low: str
    high: str | None
    rows: Sequence[int]


@dataclass
class Batch:
    """One batch: its SOQL, state, and once processed the rows (or the failure) it came to."""

    id: str
    job_id: str
    query: str
    created_at: datetime
    state: str = "Queued"
    modified_at: datetime | None = None
    state_message: str | None = None
    failure: str | None = None  # the stateMessage it fails with once processed
    chunks: tuple[Chunk, ...] = ()  # PK chunking: the batches this one is split into
    is_chunk: bool = False  # a batch PK chunking added
    table: Table | None = None
    fields: tuple[str, ...] = ()
    rows: Sequence[int] = ()
    result_id: str | None = None
    processing_ms: int = 0

    def info(self) -> dict[str, object]:
        processed = len(self.rows) if self.state == "Completed" else 0
        return {
            "id": self.id,
            "jobId": self.job_id,
            "state": self.state,
            "stateMessage": self.state_message,
            "createdDate": self.created_at,
            "systemModstamp": self.modified_at or self.created_at,
            "numberRecordsProcessed": processed,
            "numberRecordsFailed": 0,
            "totalProcessingTime": self.processing_ms,
            "apiActiveProcessingTime": self.processing_ms,
            "apexProcessingTime": 0,
        }


@dataclass
class Job:
    """A Bulk API 1.0 query job and its batches, in the order they were added."""

    id: str
    org: str
    operation: str
    sobject: str
    content_type: str
    concurrency_mode: str
    created_by: str
    created_at: datetime
    api_version: str
    pk_chunking: PkChunking | None
    state: str = "Open"
    modified_at: datetime | None = None
    batches: list[Batch] = field(default_factory=list)

    def info(self) -> dict[str, object]:
        def count(*states: str) -> int:
            return sum(batch.state in states for batch in self.batches)

        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": self.created_at,
            "systemModstamp": self.modified_at or self.created_at,
            "state": self.state,
            "concurrencyMode": self.concurrency_mode,
            "contentType": self.content_type,
            "numberBatchesQueued": count("Queued"),
            "numberBatchesInProgress": count("InProgress"),
            "numberBatchesCompleted": count("Completed"),
            "numberBatchesFailed": count("Failed"),
            "numberBatchesTotal": len(self.batches),
            "numberRecordsProcessed": sum(len(b.rows) for b in self.batches if b.state == "Completed"),
            "numberRetries": 0,
            "apiVersion": float(self.api_version),
            "numberRecordsFailed": 0,
            "totalProcessingTime": sum(b.processing_ms for b in self.batches),
            "apiActiveProcessingTime": sum(b.processing_ms for b in self.batches),
            "apexProcessingTime": 0,
        }


class AsyncJobs:
    """Every org's Bulk API 1.0 jobs, by id; each job's changes happen under the store's lock."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self.lock = threading.RLock()

    def create(
        self, org: Org, request: Mapping[str, object], pk_header: str | None, user_id: str, now: datetime, version: str
    ) -> Job:
        """Validate a jobInfo request and register the job (state Open); raises AsyncApiError."""
        operation, sobject = request.get("operation"), request.get("object")
        if operation not in OPERATIONS:
            raise AsyncApiError(400, "InvalidJob", f"Invalid operation: {operation}")
        if operation not in QUERY_OPERATIONS:
            raise AsyncApiError(
                400, "InvalidJob", f"Operation {operation} is not supported by the orgfeed emulator (query jobs only)"
            )
        table = org.table(str(sobject)) if isinstance(sobject, str) else None
        if table is None:
            raise AsyncApiError(400, "InvalidJob", f"Unable to find object: {sobject}")
        content_type = request.get("contentType") or "XML"  # JobInfo: XML unless the job names another
        if content_type in UNSUPPORTED_CONTENT_TYPES:
            raise AsyncApiError(
                400, "InvalidJob", f"contentType {content_type} is not supported by the orgfeed emulator"
            )
        if not isinstance(content_type, str) or content_type not in CONTENT_TYPES:
            raise AsyncApiError(400, "InvalidJob", f"Invalid contentType: {content_type}")
        raw_mode = request.get("concurrencyMode", "Parallel")
        mode = CONCURRENCY_MODES.get(raw_mode) if type(raw_mode) in (str, int) else None
        if mode is None:
            raise AsyncApiError(400, "InvalidJob", f"Invalid concurrencyMode: {request.get('concurrencyMode')}")
        job = Job(
            org.next_id("AsyncQueryJob"),
            org.name,
            str(operation),
            table.sobject.name,
            str(content_type),
            mode,
            user_id,
            now,
            version,
            read_pk_chunking(pk_header),
        )
        with self.lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.state != "Open"]
            for old in finished[: max(0, len(self._jobs) - MAX_JOBS)]:
                del self._jobs[old.id]
        return job

    def find(self, org: Org, job_id: str) -> Job:
        with self.lock:
            job = self._jobs.get(job_id)
        if job is None or job.org != org.name:
            raise AsyncApiError(400, "InvalidJob", f"Invalid job id: {job_id}")
        return job

    def add_batch(self, org: Org, job: Job, soql: str, now: datetime) -> Batch:
        """Add a query batch to an open job: its rows are found now, its state moves on with the polls."""
        with self.lock:
            if job.state != "Open":
                raise AsyncApiError(
                    400, "InvalidJobState", f"Job {job.id} is {job.state}: batches can be added to Open jobs only"
                )
            batch = Batch(org.next_id("BulkBatch"), job.id, soql, now)
            job.batches.append(batch)
            org.bulk_batches_created += 1
        started = time.monotonic()
        try:
            with org.lock:
                plan_batch(org, job, batch, now)
        except SalesforceError as error:
            batch.failure = f"InvalidBatch : Failed to process query: {error.error_code}: {error.message}"
        batch.processing_ms = int((time.monotonic() - started) * 1000)
        return batch

    def tick(self, org: Org, job: Job, now: datetime) -> None:
        """Move each pending batch of `job` one state on, as processing would between two polls."""
        with self.lock:
            for batch in list(job.batches):
                if batch.state == "Queued":
                    batch.state, batch.modified_at = "InProgress", now
                elif batch.state == "InProgress":
                    finish_batch(org, job, batch, now)

    def change_state(self, job: Job, state: object, now: datetime) -> None:
        """Close or abort a job ("Step Three: Close a Job", "Abort a Job"); aborting skips queued batches."""
        with self.lock:
            allowed = {"Open": ("Closed", "Aborted"), "Closed": ("Aborted",)}.get(job.state, ())
            if state not in allowed:
                raise AsyncApiError(400, "InvalidJobState", f"Job {job.id} is {job.state} and cannot become {state}")
            job.state, job.modified_at = str(state), now
            if state == "Aborted":
                for batch in job.batches:
                    if batch.state == "Queued":
                        batch.state, batch.modified_at = "NotProcessed", now


def find_batch(job: Job, batch_id: str) -> Batch:
    batch = next((b for b in job.batches if b.id == batch_id), None)
    if batch is None:
        raise AsyncApiError(400, "InvalidBatch", f"Invalid batch id: {batch_id}")
    return batch


def read_pk_chunking(header: str | None) -> PkChunking | None:
    """Return the PK chunking a job asked for in Sforce-Enable-PKChunking (None: none); raises AsyncApiError.

    "PK Chunking": TRUE enables it with the defaults, FALSE (or no header) disables it, and
    `chunkSize=N; startRow=ID` (either, separated by semicolons) enables it with those values.
    `parent` names the parent of a sharing object; the emulated orgs have none.
    """
    value = (header or "").strip()
    if not value or value.upper() == "FALSE":
        return None
    if value.upper() == "TRUE":
        return PkChunking()
    options: dict[str, str] = {}
    for part in value.split(";"):
        name, equals, setting = part.partition("=")
        if not equals or name.strip() not in ("chunkSize", "startRow", "parent"):
            raise AsyncApiError(400, "InvalidJob", f"Invalid Sforce-Enable-PKChunking header: {value}")
        options[name.strip()] = setting.strip()
    if "parent" in options:
        raise AsyncApiError(
            400, "InvalidJob", "parent applies to sharing objects, which the orgfeed emulator has none of"
        )
    size = options.get("chunkSize", str(DEFAULT_CHUNK_SIZE))
    if not size.isdigit() or not 1 <= int(size) <= MAX_CHUNK_SIZE:
        raise AsyncApiError(400, "InvalidJob", f"chunkSize must be a whole number from 1 to {MAX_CHUNK_SIZE}: {size}")
    start = options.get("startRow")
    if start is not None and not ID_PATTERN.fullmatch(start):
        raise AsyncApiError(400, "InvalidJob", f"startRow must be a 15- or 18-character record id: {start}")
    return PkChunking(int(size), start[:15] if start else None)


def plan_batch(org: Org, job: Job, batch: Batch, now: datetime) -> None:
    """Find the rows of a batch's SOQL (and its PK chunks); raises SalesforceError for a query Salesforce refuses."""
    table, compiled, rows = prepare_query(org, batch.query, job.operation == "queryAll", now)
    if table.sobject.name != job.sobject:
        raise SalesforceError(
            400, "INVALID_TYPE", f"The query's object {table.sobject.name} is not the job's object {job.sobject}"
        )
    check_bulk_query(table, compiled.fields, compiled.is_count, compiled.offset)
    batch.table, batch.fields, batch.rows = table, compiled.fields, rows
    if job.pk_chunking is not None:
        batch.chunks = tuple(plan_chunks(table, rows, job, batch.query))


def plan_chunks(table: Table, rows: Sequence[int], job: Job, soql: str) -> Iterator[Chunk]:
    """Yield the chunks of a batch's rows: `chunkSize` record ids each, from `startRow`, deleted ones counted.

    "PK Chunking": only the objects it lists and custom objects, and only queries with no clause
    but WHERE; raises SalesforceError otherwise. Ids sort as the emulator numbers rows, and `rows`
    (the query's result without ORDER BY) come in that order.
    """
    chunking = job.pk_chunking
    assert chunking is not None
    name = table.sobject.name
    if name not in PK_CHUNKING_OBJECTS and not name.endswith("__c"):
        raise SalesforceError(400, "FEATURE_NOT_ENABLED", f"PK chunking is not supported for {name}")
    query = parse_soql(soql)
    if query.order_by or query.limit is not None or query.offset is not None:
        raise SalesforceError(
            400, "FEATURE_NOT_ENABLED", "PK chunking works only with queries that have no clause but WHERE"
        )
    start_row = chunking.start_row
    in_scope = [
        row for row in table.rows(include_deleted=True) if start_row is None or table.record_id(row)[:15] >= start_row
    ]
    firsts = in_scope[:: chunking.chunk_size]  # the first row of each chunk
    if not firsts:
        yield Chunk(start_row or "000000000000000", None, ())
        return
    for index, first in enumerate(firsts):
        following = firsts[index + 1] if index + 1 < len(firsts) else None
        low = start_row if index == 0 and start_row else table.record_id(first)[:15]
        high = table.record_id(following)[:15] if following is not None else None
        stop = bisect_left(rows, following) if following is not None else len(rows)
        yield Chunk(low, high, rows[bisect_left(rows, first) : stop])


def chunk_query(soql: str, low: str, high: str | None) -> str:
    """Return a batch's SOQL limited to one chunk of ids, as "PK Chunking" shows it: `WHERE Id >= ... AND Id < ...`."""
    bounds = f"Id >= '{low}'" + (f" AND Id < '{high}'" if high else "")
    where = next((t for t in scan_tokens(soql) if t.kind == "name" and t.text.upper() == "WHERE"), None)
    if where is None:
        return f"{soql.rstrip()} WHERE {bounds}"
    condition = soql[where.at + len(where.text) :].strip()
    return f"{soql[: where.at]}WHERE ({condition}) AND {bounds}"


def finish_batch(org: Org, job: Job, batch: Batch, now: datetime) -> None:
    """End a batch that was InProgress: Failed, Completed, or (PK chunking) NotProcessed with its chunks added."""
    batch.modified_at = now
    if batch.failure is not None:
        batch.state, batch.state_message = "Failed", batch.failure
        return
    if job.pk_chunking is None or batch.is_chunk:
        batch.state = "Completed"
        batch.result_id = org.next_id("BulkResult")
        return
    batch.state = "NotProcessed"
    for chunk in batch.chunks:
        added = Batch(org.next_id("BulkBatch"), job.id, chunk_query(batch.query, chunk.low, chunk.high), now)
        added.table, added.fields, added.rows, added.is_chunk = batch.table, batch.fields, chunk.rows, True
        job.batches.append(added)
        org.bulk_batches_created += 1
