"""Bulk API 2.0 query jobs: create, wait, stream each result page, delete.

Result pages stream straight from HTTPS into the caller (no page is held in memory). A page
can be opened again from its locator, so a download cut mid-way is retried from that page.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import requests

from app.salesforce import BulkJobFailed, DownloadInterrupted, SalesforceError
from app.salesforce.client import OrgClient

TERMINAL_FAILURES = ("Failed", "Aborted")
CHUNK_BYTES = 1 << 20


@dataclass
class ResultPage:
    """One page of a job's results; `open()` streams its CSV and learns the next page's locator."""

    client: OrgClient
    job_id: str
    locator: str | None
    max_records: int
    next_locator: str | None = field(default=None, init=False)
    rows: int | None = field(default=None, init=False)
    opened: bool = field(default=False, init=False)

    def open(self) -> Iterator[bytes]:
        params: dict[str, int | str] = {"maxRecords": self.max_records}
        if self.locator:
            params["locator"] = self.locator
        response = self.client.request(
            f"bulk results {self.job_id}",
            "GET",
            f"jobs/query/{self.job_id}/results",
            params=params,
            headers={"Accept": "text/csv"},
            stream=True,
        )
        locator = response.headers.get("Sforce-Locator", "null")
        # The last page carries the literal string "null".
        self.next_locator = None if locator in ("null", "") else locator
        count = response.headers.get("Sforce-NumberOfRecords")
        self.rows = int(count) if count is not None else None
        self.opened = True
        return _stream(response, self.job_id)


def _stream(response: requests.Response, job_id: str) -> Iterator[bytes]:
    """The body in chunks; a connection lost mid-way becomes DownloadInterrupted (the page can be opened again)."""
    try:
        yield from response.iter_content(chunk_size=CHUNK_BYTES)
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
        raise DownloadInterrupted(
            f"bulk job {job_id}: result download interrupted: {type(error).__name__}", error_code="DOWNLOAD_INTERRUPTED"
        ) from error
    finally:
        response.close()


def iter_bulk_pages(
    client: OrgClient,
    soql: str,
    *,
    include_deleted: bool,
    max_records: int = 100_000,
    poll_seconds: float = 0.5,
    timeout_seconds: float = 3600,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[ResultPage]:
    """The result pages of a Bulk 2.0 query job; each page must be opened (and read) before the next is yielded.

    Raises BulkJobFailed when the job ends Failed or Aborted. The job is deleted afterwards.
    """
    job_id = create_query_job(client, soql, include_deleted=include_deleted)
    try:
        wait_for_job(client, job_id, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds, sleep=sleep)
        locator: str | None = None
        while True:
            page = ResultPage(client, job_id, locator, max_records)
            yield page
            if not page.opened:
                raise SalesforceError("a bulk result page must be opened before the next one is asked for")
            if page.next_locator is None:
                return
            locator = page.next_locator
    finally:
        delete_job(client, job_id)


def create_query_job(client: OrgClient, soql: str, *, include_deleted: bool) -> str:
    """Creates a query (or queryAll) job and returns its id."""
    body = {
        "operation": "queryAll" if include_deleted else "query",
        "query": soql,
        "contentType": "CSV",
        "columnDelimiter": "COMMA",
        "lineEnding": "LF",
    }
    created, _ = client.request_json("create bulk query job", "POST", "jobs/query", json=body)
    return created["id"]


def wait_for_job(
    client: OrgClient, job_id: str, *, poll_seconds: float, timeout_seconds: float, sleep: Callable[[float], None]
) -> dict:
    """The job's info once JobComplete; BulkJobFailed when it ends Failed or Aborted or takes too long."""
    deadline = time.monotonic() + timeout_seconds
    delay = poll_seconds
    while True:
        info, _ = client.request_json(f"bulk job {job_id}", "GET", f"jobs/query/{job_id}")
        state = info.get("state")
        if state == "JobComplete":
            return info
        if state in TERMINAL_FAILURES:
            raise BulkJobFailed(
                f"org {client.org.name!r}: bulk job {job_id} ended {state}: {info.get('errorMessage') or 'no message'}",
                error_code=state,
            )
        if time.monotonic() > deadline:
            raise BulkJobFailed(
                f"org {client.org.name!r}: bulk job {job_id} still {state} after {timeout_seconds:.0f} s",
                error_code="Timeout",
            )
        sleep(delay)
        delay = min(delay * 1.5, 5.0)


def delete_job(client: OrgClient, job_id: str) -> None:
    """Deletes the job and its results; a failure here loses nothing, so it is not raised."""
    with contextlib.suppress(SalesforceError):
        client.request(f"delete bulk job {job_id}", "DELETE", f"jobs/query/{job_id}")
