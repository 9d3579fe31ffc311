"""Bulk API 1.0's wire shapes: jobInfo, batchInfo, result-list and error in XML or JSON, and result files.

Bulk API Developer Guide: "JobInfo", "BatchInfo", "Errors", "Step One: Create a Job" and
"Get Information for a Batch" show both forms. XML elements come in the schema's order in the
namespace http://www.force.com/2009/06/asyncapi/dataload, with dates as 2015-12-15T21:41:45.000Z;
JSON objects carry the same fields with dates as 2015-12-15T21:41:45.000+0000. A result file is
CSV, a JSON array of records or an XML queryResult, as the job's contentType says ("Use Bulk Query").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import orjson

from app.emulator.bulk1 import Batch, Job
from app.emulator.formats import format_datetime, json_value, text_value
from app.emulator.org import Org
from app.emulator.table import BLOCK_ROWS, Table

NAMESPACE = "http://www.force.com/2009/06/asyncapi/dataload"
XML_TYPE = "application/xml"
JSON_TYPE = "application/json"
# The fields of jobInfo and batchInfo in the order the XML schema gives them.
JOB_FIELDS = (
    "id",
    "operation",
    "object",
    "createdById",
    "createdDate",
    "systemModstamp",
    "state",
    "concurrencyMode",
    "contentType",
    "numberBatchesQueued",
    "numberBatchesInProgress",
    "numberBatchesCompleted",
    "numberBatchesFailed",
    "numberBatchesTotal",
    "numberRecordsProcessed",
    "numberRetries",
    "apiVersion",
    "numberRecordsFailed",
    "totalProcessingTime",
    "apiActiveProcessingTime",
    "apexProcessingTime",
)
JSON_ONLY_JOB_FIELDS = {"assignmentRuleId": None, "externalIdFieldName": None, "fastPathEnabled": False}
BATCH_FIELDS = (
    "id",
    "jobId",
    "state",
    "stateMessage",
    "createdDate",
    "systemModstamp",
    "numberRecordsProcessed",
    "numberRecordsFailed",
    "totalProcessingTime",
    "apiActiveProcessingTime",
    "apexProcessingTime",
)


class DataloadError(Exception):
    """A request body that is not a jobInfo: the exceptionCode (InvalidXML, ClientInputError) and message."""

    def __init__(self, exception_code: str, message: str) -> None:
        super().__init__(f"{exception_code}: {message}")
        self.exception_code = exception_code
        self.message = message


def read_job_request(body: bytes, as_json: bool) -> dict[str, object]:
    """Return the fields of a jobInfo request body (XML or JSON); raises DataloadError."""
    if as_json:
        try:
            parsed = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            raise DataloadError("ClientInputError", "The request body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise DataloadError("ClientInputError", "The request body must be a JSON object")
        return parsed
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise DataloadError("InvalidXML", f"The request body is not well-formed XML: {error}") from None
    if root.tag != f"{{{NAMESPACE}}}jobInfo":
        raise DataloadError("InvalidXML", f"The request body must be a jobInfo element in the namespace {NAMESPACE}")
    return {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in root}


def job_document(fields: Mapping[str, object], as_json: bool) -> bytes:
    """Return a jobInfo in XML or JSON."""
    if as_json:
        return orjson.dumps({**JSON_ONLY_JOB_FIELDS, **_json_values(fields)})
    return _xml("jobInfo", [(name, fields[name]) for name in JOB_FIELDS if name in fields])


def batch_document(fields: Mapping[str, object], as_json: bool) -> bytes:
    """Return a batchInfo in XML or JSON (stateMessage only when there is one, in XML)."""
    if as_json:
        return orjson.dumps(_json_values({"stateMessage": None, **fields}))
    return _xml("batchInfo", _batch_items(fields))


def batch_list_document(batches: Sequence[Mapping[str, object]], as_json: bool) -> bytes:
    """Return the batchInfoList of a job."""
    if as_json:
        return orjson.dumps({"batchInfo": [_json_values({"stateMessage": None, **b}) for b in batches]})
    root = ElementTree.Element("batchInfoList", xmlns=NAMESPACE)
    for fields in batches:
        _append(ElementTree.SubElement(root, "batchInfo"), _batch_items(fields))
    return _serialize(root)


def result_list_document(result_ids: Sequence[str], as_json: bool) -> bytes:
    """Return a batch's result-list: the ids of its result files."""
    if as_json:
        return orjson.dumps(list(result_ids))
    return _xml("result-list", [("result", result_id) for result_id in result_ids])


def error_document(exception_code: str, message: str, as_json: bool) -> bytes:
    """Return Bulk API 1.0's error body."""
    if as_json:
        return orjson.dumps({"exceptionCode": exception_code, "exceptionMessage": message})
    return _xml("error", [("exceptionCode", exception_code), ("exceptionMessage", message)])


def _batch_items(fields: Mapping[str, object]) -> list[tuple[str, object]]:
    return [(name, fields[name]) for name in BATCH_FIELDS if fields.get(name) is not None]


def _json_values(fields: Mapping[str, object]) -> dict[str, object]:
    return {name: _json_date(value) if isinstance(value, datetime) else value for name, value in fields.items()}


def _json_date(moment: datetime) -> str:
    return format_datetime(moment)  # 2015-12-15T22:52:49.000+0000


def _xml(root_name: str, items: Sequence[tuple[str, object]]) -> bytes:
    root = ElementTree.Element(root_name, xmlns=NAMESPACE)
    _append(root, items)
    return _serialize(root)


def _append(parent: ElementTree.Element, items: Sequence[tuple[str, object]]) -> None:
    for name, value in items:
        ElementTree.SubElement(parent, name).text = _xml_text(value)


def _xml_text(value: object) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)[:-5] + "Z"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _serialize(root: ElementTree.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(
        root, encoding="utf-8", xml_declaration=False
    )


def result_bytes(org: Org, job: Job, batch: Batch) -> Iterator[bytes]:
    """Yield a completed batch's result file: CSV with a header line, or a JSON array, or XML records."""
    table = batch.table
    assert table is not None
    if job.content_type == "CSV":
        yield (",".join(f'"{name}"' for name in batch.fields) + "\n").encode()
        for start in range(0, len(batch.rows), BLOCK_ROWS):
            with org.lock:
                yield table.csv_chunk(batch.fields, batch.rows[start : start + BLOCK_ROWS]).data
    elif job.content_type == "JSON":
        yield b"["
        for start in range(0, len(batch.rows), BLOCK_ROWS):
            with org.lock:
                records = [
                    json_record(table, row, batch.fields, job.api_version)
                    for row in batch.rows[start : start + BLOCK_ROWS]
                ]
            piece = orjson.dumps(records)[1:-1]
            yield (b"," if start else b"") + piece
        yield b"]"
    else:
        yield from xml_records(org, table, batch)


def json_record(table: Table, row: int, fields: Sequence[str], api_version: str) -> dict[str, object]:
    """Return one record of a JSON result: REST's shape, but dates and datetimes as epoch milliseconds."""
    record = table.json_record(row, (), api_version)
    for name, kind in zip(fields, field_types(table, fields)):
        value = table.value(row, name)
        if kind == "datetime" and isinstance(value, datetime):
            record[name] = int(value.timestamp() * 1000)
        elif kind == "date" and isinstance(value, date):
            record[name] = int(datetime.combine(value, datetime.min.time(), UTC).timestamp() * 1000)
        else:
            record[name] = json_value(kind, value)
    return record


def xml_records(org: Org, table: Table, batch: Batch) -> Iterator[bytes]:
    """Yield an XML result: `<queryResult>` with one `<records xsi:type="sObject">` per row, nulls as xsi:nil."""
    yield (
        f'<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="{NAMESPACE}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    ).encode()
    types = field_types(table, batch.fields)
    for start in range(0, len(batch.rows), BLOCK_ROWS):
        parts = []
        with org.lock:
            for row in batch.rows[start : start + BLOCK_ROWS]:
                parts.append(f'<records xsi:type="sObject"><type>{table.sobject.name}</type>')
                for name, kind in zip(batch.fields, types):
                    value = table.value(row, name)
                    if value is None:
                        parts.append(f'<{name} xsi:nil="true"/>')
                    else:
                        parts.append(f"<{name}>{escape(text_value(kind, value))}</{name}>")
                parts.append("</records>")
        yield "".join(parts).encode()
    yield b"</queryResult>"


def field_types(table: Table, fields: Sequence[str]) -> list[str]:
    return [found.type if (found := table.sobject.field(name)) else "string" for name in fields]
