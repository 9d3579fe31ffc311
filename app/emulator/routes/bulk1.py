"""Bulk API 1.0 views under /services/async/<version>/: jobs, batches, batch requests and result files.

`g.org` and `g.session` are set by app.py from the X-SFDC-Session header. Bodies are XML or JSON:
JSON when the request's Content-Type is JSON or the job's contentType is JSON, XML otherwise,
as the Bulk API Developer Guide's examples pair them.
"""

from __future__ import annotations

from flask import Response, current_app, g, request

from app.emulator.bulk1 import CONTENT_TYPES, Job, find_batch
from app.emulator.dataload import (
    JSON_TYPE,
    XML_TYPE,
    DataloadError,
    batch_document,
    batch_list_document,
    job_document,
    read_job_request,
    result_bytes,
    result_list_document,
)
from app.emulator.emulator import Emulator
from app.emulator.errors import AsyncApiError
from app.emulator.faults import BULK_KINDS


def _emulator() -> Emulator:
    return current_app.extensions["emulator"]


def wants_json(job: Job | None = None) -> bool:
    """Return whether to answer in JSON: the request's Content-Type says so, or the job's contentType does."""
    content_type = request.headers.get("Content-Type", "").lower()
    if "json" in content_type:
        return True
    if "xml" in content_type or job is None:
        return False
    return job.content_type == "JSON"


def _document(body: bytes, as_json: bool, status: int = 200) -> Response:
    return Response(body, status=status, mimetype=JSON_TYPE if as_json else XML_TYPE)


def _job(version: str, job_id: str) -> Job:
    job = _emulator().async_jobs.find(g.org, job_id)
    if job.api_version != version:
        # "Add a Batch to a Job": the API version of every batch operation must match the job's.
        raise AsyncApiError(400, "InvalidUrl", f"Job {job_id} was created with API version {job.api_version}")
    return job


def create_job(version: str) -> Response:
    emulator = _emulator()
    as_json = wants_json()
    try:
        fields = read_job_request(request.get_data(), as_json)
    except DataloadError as error:
        raise AsyncApiError(400, error.exception_code, error.message) from None
    header = request.headers.get("Sforce-Enable-PKChunking")
    job = emulator.async_jobs.create(g.org, fields, header, g.session.user_id, emulator.clock.now(), version)
    return _document(job_document(job.info(), as_json), as_json, 201)


def job(version: str, job_id: str) -> Response:
    emulator = _emulator()
    found = _job(version, job_id)
    as_json = wants_json(found)
    if request.method == "POST":
        try:
            fields = read_job_request(request.get_data(), as_json)
        except DataloadError as error:
            raise AsyncApiError(400, error.exception_code, error.message) from None
        emulator.async_jobs.change_state(found, fields.get("state"), emulator.clock.now())
    else:
        emulator.async_jobs.tick(g.org, found, emulator.clock.now())
    return _document(job_document(found.info(), as_json), as_json)


def add_batch(version: str, job_id: str) -> Response:
    emulator = _emulator()
    found = _job(version, job_id)
    expected = CONTENT_TYPES[found.content_type]
    sent = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if sent != expected:
        # "Use Bulk Query": the batch's Content-Type is the job's (text/csv, application/xml or application/json).
        raise AsyncApiError(
            400,
            "InvalidBatch",
            f"Content-Type {sent or 'none'} does not match the job's contentType {found.content_type}",
        )
    soql = request.get_data().decode("utf-8", errors="replace").strip()
    batch = emulator.async_jobs.add_batch(g.org, found, soql, emulator.clock.now())
    fault = emulator.faults.take(request.method, request.path, BULK_KINDS)
    if fault is not None:
        batch.failure = "Unknown : the orgfeed emulator failed this batch on request"
        if fault.kind == "bulk_aborted":
            batch.state = "NotProcessed"
    as_json = wants_json(found)
    return _document(batch_document(batch.info(), as_json), as_json, 201)


def list_batches(version: str, job_id: str) -> Response:
    emulator = _emulator()
    found = _job(version, job_id)
    emulator.async_jobs.tick(g.org, found, emulator.clock.now())
    as_json = wants_json(found)
    return _document(batch_list_document([b.info() for b in found.batches], as_json), as_json)


def batch(version: str, job_id: str, batch_id: str) -> Response:
    emulator = _emulator()
    found = _job(version, job_id)
    emulator.async_jobs.tick(g.org, found, emulator.clock.now())
    as_json = wants_json(found)
    return _document(batch_document(find_batch(found, batch_id).info(), as_json), as_json)


def batch_request(version: str, job_id: str, batch_id: str) -> Response:
    # "Get a Batch Request": a query batch's request is its SOQL.
    return Response(find_batch(_job(version, job_id), batch_id).query, mimetype="text/plain")


def results(version: str, job_id: str, batch_id: str) -> Response:
    found = _job(version, job_id)
    chosen = find_batch(found, batch_id)
    if chosen.state != "Completed" or chosen.result_id is None:
        raise AsyncApiError(400, "InvalidBatch", "Batch not completed")
    as_json = wants_json(found)
    return _document(result_list_document([chosen.result_id], as_json), as_json)


def result(version: str, job_id: str, batch_id: str, result_id: str) -> Response:
    found = _job(version, job_id)
    chosen = find_batch(found, batch_id)
    if chosen.state != "Completed" or chosen.result_id != result_id:
        raise AsyncApiError(400, "InvalidBatch", f"Invalid result id: {result_id}")
    mimetype = CONTENT_TYPES[found.content_type]
    return Response(result_bytes(g.org, found, chosen), mimetype=mimetype, direct_passthrough=True)
