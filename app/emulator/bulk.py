"""Bulk API 2.0 query jobs: create, poll through their states, stream CSV results, abort, delete.

Shapes from the Bulk API 2.0 Developer Guide: "Create a Query Job", "Get Information About a Query
Job", "Get Results for a Query Job" (CSV pages, `Sforce-Locator` and `Sforce-NumberOfRecords`
headers, the literal locator `null` after the last page) and "Abort a Query Job".
Each poll moves a job one state on: UploadComplete -> InProgress -> JobComplete (or the Failed or
Aborted end a fault injected). A background thread runs the query when the job is created and
renders its CSV in blocks; the job completes once the rows are known, and result pages stream
each block as soon as it is rendered, so rendering overlaps with the client's download.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from app.emulator.errors import SalesforceError, not_found
from app.emulator.formats import format_datetime
from app.emulator.org import Org
from app.emulator.query import prepare_query
from app.emulator.table import BLOCK_ROWS, CsvChunk, Table

TERMINAL_STATES = ("JobComplete", "Failed", "Aborted")
MAX_JOBS = 100  # jobs kept with their results; older finished ones are deleted


@dataclass
class BulkJob:
    """One query job and, once complete, the rows it found."""

    id: str
    org: str
    operation: str
    query: str
    sobject: str
    created_by: str
    created_at: datetime
    api_version: str
    line_ending: str
    state: str = "UploadComplete"
    modified_at: datetime | None = None
    forced_end: str | None = None
    error_message: str | None = None
    table: Table | None = None
    fields: tuple[str, ...] = ()
    total: int = 0
    chunks: list[CsvChunk] = field(default_factory=list)
    prepared: bool = False
    rendered: bool = False
    render_error: str | None = None
    cancelled: bool = False
    progress: threading.Condition = field(default_factory=threading.Condition)
    processing_ms: int = 0

    def info(self) -> dict[str, object]:
        """Return the job info JSON."""
        body: dict[str, object] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": format_datetime(self.created_at),
            "systemModstamp": format_datetime(self.modified_at or self.created_at),
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Query",
            "lineEnding": self.line_ending,
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": self.total if self.state == "JobComplete" else 0,
            "retries": 0,
            "totalProcessingTime": self.processing_ms,
        }
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


class BulkJobs:
    """Every org's query jobs, by id."""

    def __init__(self) -> None:
        self._jobs: dict[str, BulkJob] = {}
        self._lock = threading.Lock()

    def create(
        self,
        org: Org,
        body: Mapping[str, object],
        user_id: str,
        now: datetime,
        api_version: str,
        forced_end: str | None,
    ) -> BulkJob:
        """Validate a create request and register the job (state UploadComplete)."""
        operation, text = body.get("operation"), body.get("query")
        if operation not in ("query", "queryAll"):
            raise SalesforceError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        if not isinstance(text, str) or not text.strip():
            raise SalesforceError(400, "INVALIDJOB", "A query job needs a query")
        if body.get("columnDelimiter", "COMMA") != "COMMA" or body.get("contentType", "CSV") != "CSV":
            raise SalesforceError(400, "INVALIDJOB", "The emulator supports contentType CSV with COMMA")
        line_ending = str(body.get("lineEnding", "LF"))
        if line_ending not in ("LF", "CRLF"):
            raise SalesforceError(400, "INVALIDJOB", f"Invalid lineEnding: {line_ending}")
        with org.lock:
            table, compiled, _ = prepare_query(org, text, operation == "queryAll", now)
            check_bulk_query(table, compiled.fields, compiled.is_count, compiled.offset)
            org.bulk_jobs_created += 1
        job = BulkJob(
            org.next_id("AsyncQueryJob"),
            org.name,
            operation,
            text,
            table.sobject.name,
            user_id,
            now,
            api_version,
            line_ending,
            forced_end=forced_end,
        )
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.state in TERMINAL_STATES]
            for old in finished[: max(0, len(self._jobs) - MAX_JOBS)]:
                # Salesforce deletes old jobs too (after 7 days); here the oldest beyond MAX_JOBS go
                old.cancelled = True
                del self._jobs[old.id]
        if forced_end is None:
            threading.Thread(target=_process, args=(job, org, now), daemon=True, name=f"bulk-{job.id}").start()
        return job

    def find(self, org: Org, job_id: str) -> BulkJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.org != org.name:
            raise not_found()
        return job

    def list(self, org: Org) -> list[BulkJob]:
        with self._lock:
            return [job for job in self._jobs.values() if job.org == org.name]

    def delete(self, org: Org, job_id: str) -> None:
        job = self.find(org, job_id)
        job.cancelled = True  # stops its rendering
        with self._lock:
            self._jobs.pop(job_id, None)


def poll(job: BulkJob, org: Org, now: datetime) -> None:
    """Move `job` on: UploadComplete -> InProgress on the first poll, then to its end once processed."""
    if job.state == "UploadComplete":
        job.state, job.modified_at = "InProgress", now
    elif job.state == "InProgress":
        if job.forced_end == "Failed":
            job.state, job.modified_at = "Failed", now
            job.error_message = "InternalServerError : the emulator failed this job on request"
        elif job.forced_end == "Aborted":
            job.state, job.modified_at = "Aborted", now
        elif job.prepared:
            job.state, job.modified_at = "JobComplete", now


def _process(job: BulkJob, org: Org, now: datetime) -> None:
    """Run the query, then render its CSV block by block, waking result pages waiting for a block."""
    started = time.monotonic()
    try:
        with org.lock:
            table, compiled, rows = prepare_query(org, job.query, job.operation == "queryAll", now)
    except SalesforceError as error:
        job.forced_end, job.error_message = "Failed", error.message
        return
    job.table, job.fields, job.total = table, compiled.fields, len(rows)
    job.prepared = True
    newline = "\r\n" if job.line_ending == "CRLF" else "\n"
    contiguous = isinstance(rows, range) and rows.step == 1 and newline == "\n"
    try:
        for start in range(0, len(rows), BLOCK_ROWS):
            if job.state == "Aborted" or job.cancelled:
                break
            part = rows[start : start + BLOCK_ROWS]
            with org.lock:
                if contiguous and part[0] % BLOCK_ROWS == 0 and len(part) == BLOCK_ROWS:
                    chunk = table.csv_block(job.fields, part[0] // BLOCK_ROWS)
                else:
                    chunk = table.csv_chunk(job.fields, part, newline)
            with job.progress:
                job.chunks.append(chunk)
                job.progress.notify_all()
    except Exception as error:  # noqa: BLE001 - any failure must wake waiting pages
        job.render_error = f"rendering failed: {error!r}"
    with job.progress:
        job.processing_ms = int((time.monotonic() - started) * 1000)
        job.rendered = True
        job.progress.notify_all()


def abort(job: BulkJob, now: datetime) -> None:
    if job.state in TERMINAL_STATES:
        raise SalesforceError(400, "INVALIDJOBSTATE", f"Job is already {job.state}")
    job.state, job.modified_at = "Aborted", now


def encode_locator(position: int) -> str:
    # Locators are opaque; Salesforce's are base64 of the position, and so are these.
    return base64.b64encode(str(position).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int:
    try:
        return int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError:
        raise SalesforceError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None


def result_page(job: BulkJob, locator: str | None, max_records: int | None) -> tuple[dict[str, str], Iterator[bytes]]:
    """Return the response headers and CSV body chunks of one page of a job's results."""
    if job.state != "JobComplete":
        raise SalesforceError(
            400, "INVALIDJOBSTATE", f"Results are available only when the job state is JobComplete, not {job.state}"
        )
    start = decode_locator(locator) if locator else 0
    total = job.total
    if not 0 <= start <= total:
        raise SalesforceError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
    stop = total if max_records is None else min(total, start + max_records)
    headers = {
        "Sforce-NumberOfRecords": str(stop - start),
        "Sforce-Locator": encode_locator(stop) if stop < total else "null",
    }
    newline = "\r\n" if job.line_ending == "CRLF" else "\n"
    header = (",".join(f'"{name}"' for name in job.fields) + newline).encode()
    return headers, _page_bytes(job, header, start, stop)


def _rendered_chunk(job: BulkJob, index: int) -> CsvChunk:
    with job.progress:
        while len(job.chunks) <= index and not job.rendered:
            job.progress.wait()
        if len(job.chunks) <= index:
            raise RuntimeError(job.render_error or f"job {job.id} stopped before its results were rendered")
        return job.chunks[index]


def _page_bytes(job: BulkJob, header: bytes, start: int, stop: int) -> Iterator[bytes]:
    pending = [header]
    size = len(header)
    position = start
    while position < stop:
        chunk = _rendered_chunk(job, position // BLOCK_ROWS)
        first = position % BLOCK_ROWS
        last = min(stop - position + first, len(chunk.ends))
        piece = chunk.data if first == 0 and last == len(chunk.ends) else chunk.lines(first, last)
        pending.append(piece)
        size += len(piece)
        position += last - first
        if size >= 1 << 20:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def check_bulk_query(table: Table, fields: tuple[str, ...], is_count: bool, offset: int | None) -> None:
    """Raise SalesforceError 400 API_ERROR for what Bulk queries refuse: compound and base64 fields, COUNT(), OFFSET.

    Bulk API 2.0 Developer Guide, "Bulk API 2.0 Query Considerations"; Bulk API 1.0 ("Use Bulk Query")
    refuses the same.
    """
    for name in fields:
        field = table.sobject.field(name)
        if field is not None and field.is_compound:
            raise SalesforceError(400, "API_ERROR", "Selecting compound data not supported in Bulk Query")
        if field is not None and field.type == "base64":
            raise SalesforceError(400, "API_ERROR", f"Binary field {name} not supported in Bulk Query")
    if is_count or offset:
        raise SalesforceError(400, "API_ERROR", "COUNT() and OFFSET are not supported in Bulk Query")
