"""REST API views: versions, limits, describe, records, query and replication.

Each view parses the request, calls the functions that do the work, and shapes the response.
`g.org` and `g.session` are set by app.py's checks for every versioned URL.
"""

from __future__ import annotations

import base64
from datetime import UTC

import orjson
from flask import Response, current_app, g, request
from werkzeug.http import http_date

from app.emulator import describe as metadata
from app.emulator.emulator import Emulator
from app.emulator.errors import SalesforceError, not_found
from app.emulator.query import QueryRequest, batch_size_of, run_query
from app.emulator.query import query_more as next_page
from app.emulator.records import create_record, delete_record, find_row, update_record
from app.emulator.replication import deleted_records, updated_ids
from app.emulator.routes.responses import json_response, no_content
from app.emulator.table import Table


def _emulator() -> Emulator:
    return current_app.extensions["emulator"]


def _table(sobject: str) -> Table:
    table = g.org.table(sobject)
    if table is None:
        raise not_found()
    return table


def _rules(table: Table) -> list:
    return _emulator().validation_rules.get((g.org.name, table.sobject.name), [])


def _json_body() -> dict[str, object]:
    try:
        body = orjson.loads(request.get_data() or b"{}")
    except orjson.JSONDecodeError as error:
        raise SalesforceError(400, "JSON_PARSER_ERROR", f"Unexpected character: {error}") from None
    if not isinstance(body, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def versions() -> Response:
    return json_response(metadata.versions())


def resources(version: str) -> Response:
    return json_response(metadata.resources(version))


def limits(version: str) -> Response:
    with g.org.lock:
        return json_response(metadata.limits(g.org))


def describe_global(version: str) -> Response:
    with g.org.lock:
        return json_response(metadata.describe_global(g.org, version))


def sobject_info(version: str, sobject: str) -> Response:
    table = _table(sobject)
    return json_response({"objectDescribe": metadata.global_entry(table.sobject, version), "recentItems": []})


def describe(version: str, sobject: str) -> Response:
    table = _table(sobject)
    schema = table.schema
    changed = schema.changed_at.replace(microsecond=0)
    since = request.if_modified_since
    # "Get Object Metadata Changes": If-Modified-Since answers 304 when the metadata is unchanged.
    if since is not None and changed <= since.astimezone(UTC):
        return Response(status=304)
    response = json_response(metadata.describe_sobject(schema.sobject, version))
    response.headers["Last-Modified"] = http_date(changed)
    return response


def create(version: str, sobject: str) -> Response:
    table = _table(sobject)
    with g.org.lock:
        record_id = create_record(table, _json_body(), g.session.user_id, _emulator().clock.now(), rules=_rules(table))
    return json_response({"id": record_id, "success": True, "errors": []}, 201)


def record(version: str, sobject: str, record_id: str) -> Response:
    table = _table(sobject)
    emulator = _emulator()
    with g.org.lock:
        if request.method == "PATCH":
            update_record(table, record_id, _json_body(), g.session.user_id, emulator.clock.now(), rules=_rules(table))
            return no_content()
        if request.method == "DELETE":
            delete_record(table, record_id, g.session.user_id, emulator.clock.now())
            return no_content()
        row = find_row(table, record_id)
        wanted = request.args.get("fields")
        if wanted:
            names = []
            for name in wanted.split(","):
                field = table.sobject.field(name.strip())
                if field is None:
                    raise SalesforceError(
                        400, "INVALID_FIELD", f"No such column '{name.strip()}' on sobject of type {table.sobject.name}"
                    )
                names.append(field.name)
        else:
            names = [f.name for f in table.sobject.fields]
        return json_response(table.json_record(row, names, version))


def blob(version: str, sobject: str, record_id: str, field: str) -> Response:
    table = _table(sobject)
    with g.org.lock:
        row = find_row(table, record_id)
        described = table.sobject.field(field)
        if described is None or described.type != "base64":
            raise not_found()
        value = table.value(row, described.name)
    if value is None:
        raise not_found()
    return Response(base64.b64decode(str(value)), mimetype="application/octetstream")


def query(version: str) -> Response:
    return _query(version, include_deleted=False)


def query_all(version: str) -> Response:
    return _query(version, include_deleted=True)


def _query(version: str, include_deleted: bool) -> Response:
    text = request.args.get("q")
    if not text:
        raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
    emulator = _emulator()
    body = run_query(
        g.org,
        emulator.cursors,
        QueryRequest(
            text,
            include_deleted,
            batch_size_of(request.headers.get("Sforce-Query-Options")),
            version,
            emulator.clock.now(),
        ),
    )
    return json_response(body)


def query_more(version: str, locator: str) -> Response:
    return json_response(next_page(g.org, _emulator().cursors, locator, version))


def updated(version: str, sobject: str) -> Response:
    table = _table(sobject)
    with g.org.lock:
        return json_response(
            updated_ids(table, request.args.get("start"), request.args.get("end"), _emulator().clock.now())
        )


def deleted(version: str, sobject: str) -> Response:
    table = _table(sobject)
    with g.org.lock:
        return json_response(
            deleted_records(table, request.args.get("start"), request.args.get("end"), _emulator().clock.now())
        )
