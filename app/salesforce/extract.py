"""REST extraction: query/queryAll pages as CSV documents, and the `updated`/`deleted` windows.

Every page leaves this module as CSV (a header of field names, then rows), the same shape
Bulk API 2.0 returns, so the warehouse loads both through one path.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from app.salesforce.client import OrgClient
from app.salesforce.soql import soql_datetime


@dataclass(frozen=True)
class QueryPage:
    csv: bytes  # header + rows
    rows: int
    total_size: int  # the whole result's size, from the first response


def iter_query_pages(
    client: OrgClient, soql: str, fields: Sequence[str], *, include_deleted: bool, batch_size: int = 2000
) -> Iterator[QueryPage]:
    """Pages of `soql` through query (or queryAll), following nextRecordsUrl, each as a CSV document."""
    headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
    kind = "queryAll" if include_deleted else "query"
    result = client.call(
        f"{kind} {soql[:60]}",
        lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers, timeout=client.timeout),
    )
    total = int(result.get("totalSize", 0))
    while True:
        records = result.get("records", [])
        yield QueryPage(csv=records_to_csv(records, fields), rows=len(records), total_size=total)
        if result.get("done", True):
            return
        next_url = result["nextRecordsUrl"]
        result = client.call(
            f"{kind} more",
            # call() runs the lambda before the loop moves on, so next_url is this page's.
            lambda sf: sf.query_more(next_url, identifier_is_url=True, headers=headers, timeout=client.timeout),  # noqa: B023
        )


def count_records(client: OrgClient, soql: str) -> int:
    """totalSize of a COUNT() query."""
    return int(client.call("count", lambda sf: sf.query(soql, timeout=client.timeout))["totalSize"])


def records_to_csv(records: Sequence[dict], fields: Sequence[str]) -> bytes:
    """REST records as a CSV document: null is an empty cell, booleans true/false, numbers exact."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for record in records:
        writer.writerow([_csv_value(record.get(field)) for field in fields])
    return buffer.getvalue().encode()


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):  # a compound value selected by mistake; its components are separate fields
        return ""
    return str(value)


def deleted_ids(client: OrgClient, sobject: str, start: datetime, end: datetime) -> tuple[list[str], datetime | None]:
    """(ids deleted in [start, end], latestDateCovered) from `sobjects/X/deleted`."""
    # simple-salesforce's restful() returns None for a 204 No Content, which `deleted` never answers.
    body = client.call(
        f"deleted {sobject}",
        lambda sf: cast(
            dict[str, Any],
            sf.restful(
                f"sobjects/{sobject}/deleted/",
                params={"start": soql_datetime(start), "end": soql_datetime(end)},
                timeout=client.timeout,
            ),
        ),
    )
    ids = [item["id"] for item in body.get("deletedRecords", [])]
    latest = body.get("latestDateCovered")
    return ids, datetime.fromisoformat(latest.replace("Z", "+00:00")) if latest else None


def ids_from_csv_pages(pages: Iterable[Callable[[], Iterable[bytes]]]) -> Iterator[str]:
    """The Id column of single-column CSV documents, streamed (header lines skipped)."""
    for open_page in pages:
        chunks = open_page()
        buffered = b""
        header_seen = False
        for chunk in chunks:
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                if not header_seen:
                    header_seen = True
                    continue
                value = line.strip().strip(b'"')
                if value:
                    yield value.decode()
        tail = buffered.strip().strip(b'"')
        if tail and header_seen:
            yield tail.decode()
