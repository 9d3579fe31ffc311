"""Bulk API 2.0 query job views: create, list, get (poll), abort, delete, and results."""

from __future__ import annotations

import orjson
from flask import Response, current_app, g, request

from app.emulator.bulk import abort, poll, result_page
from app.emulator.emulator import Emulator
from app.emulator.errors import SalesforceError
from app.emulator.faults import BULK_KINDS
from app.emulator.routes.responses import json_response, no_content


def _emulator() -> Emulator:
    return current_app.extensions["emulator"]


def _json_object() -> dict[str, object]:
    try:
        body = orjson.loads(request.get_data() or b"{}")
    except orjson.JSONDecodeError:
        raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def create_job(version: str) -> Response:
    emulator = _emulator()
    body = _json_object()
    fault = emulator.faults.take(request.method, request.path, BULK_KINDS)
    forced_end = {"bulk_failed": "Failed", "bulk_aborted": "Aborted"}.get(fault.kind) if fault else None
    job = emulator.jobs.create(g.org, body, g.session.user_id, emulator.clock.now(), version, forced_end)
    info = job.info()
    for key in ("jobType", "numberRecordsProcessed", "retries", "totalProcessingTime"):
        info.pop(key)  # the create response has no statistics yet
    return json_response(info)


def list_jobs(version: str) -> Response:
    jobs = _emulator().jobs.list(g.org)
    return json_response({"done": True, "records": [job.info() for job in jobs], "nextRecordsUrl": None})


def job(version: str, job_id: str) -> Response:
    emulator = _emulator()
    found = emulator.jobs.find(g.org, job_id)
    if request.method == "DELETE":
        emulator.jobs.delete(g.org, job_id)
        return no_content()
    if request.method == "PATCH":
        if _json_object().get("state") != "Aborted":
            raise SalesforceError(400, "INVALIDJOBSTATE", "A query job can only be set to Aborted")
        abort(found, emulator.clock.now())
        return json_response(found.info())
    poll(found, g.org, emulator.clock.now())
    return json_response(found.info())


def results(version: str, job_id: str) -> Response:
    found = _emulator().jobs.find(g.org, job_id)
    raw_max = request.args.get("maxRecords")
    if raw_max is not None and (not raw_max.isdigit() or int(raw_max) < 1):
        raise SalesforceError(400, "INVALIDREQUEST", f"maxRecords must be a positive integer: {raw_max}")
    headers, chunks = result_page(found, request.args.get("locator"), int(raw_max) if raw_max else None)
    return Response(chunks, headers=headers, mimetype="text/csv", direct_passthrough=True)
