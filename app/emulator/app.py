"""The emulator's Flask app: every URL it serves, and the checks every request passes first.

Order of checks for each request (as Salesforce applies them): injected faults, API version,
session (401 INVALID_SESSION_ID), API allocation (403 REQUEST_LIMIT_EXCEEDED). Bulk API 1.0
(/services/async/) takes its session from the X-SFDC-Session header and answers errors in its own
XML or JSON shape (InvalidSessionId, ExceededQuota, InvalidUrl, Unknown). Every response to an
authenticated request carries `Sforce-Limit-Info`.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.emulator.dataload import JSON_TYPE, XML_TYPE, error_document
from app.emulator.describe import API_VERSIONS
from app.emulator.emulator import Emulator
from app.emulator.errors import (
    AsyncApiError,
    ControlError,
    OAuthError,
    SalesforceError,
    invalid_session,
    not_found,
    request_limit_exceeded,
    unknown_exception,
)
from app.emulator.faults import REQUEST_KINDS
from app.emulator.routes import bulk as bulk_routes
from app.emulator.routes import bulk1 as bulk1_routes
from app.emulator.routes import control as control_routes
from app.emulator.routes import oauth as oauth_routes
from app.emulator.routes import rest as rest_routes
from app.emulator.routes.responses import json_response, oauth_error, salesforce_error

MALFORMED_BODY = b'{"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Acc'  # cut off mid-string
_VERSIONED = re.compile(r"^/services/data/v(\d+\.\d)(/|$)")
_ASYNC = re.compile(r"^/services/async/(\d+\.\d)(/|$)")


def create_app(emulator: Emulator) -> Flask:
    app = Flask("orgfeed_emulator")
    app.extensions["emulator"] = emulator
    app.url_map.strict_slashes = False
    data = "/services/data/v<version>"
    job = "/services/async/<version>/job"
    rules: list[tuple[str, Callable[..., Response], list[str]]] = [
        ("/services/oauth2/token", oauth_routes.token, ["POST"]),
        ("/services/oauth2/authorize", oauth_routes.authorize, ["GET"]),
        ("/services/oauth2/revoke", oauth_routes.revoke, ["GET", "POST"]),
        ("/id/<org_id>/<user_id>", oauth_routes.identity, ["GET"]),
        ("/services/data", rest_routes.versions, ["GET"]),
        (f"{data}", rest_routes.resources, ["GET"]),
        (f"{data}/limits", rest_routes.limits, ["GET"]),
        (f"{data}/sobjects", rest_routes.describe_global, ["GET"]),
        (f"{data}/sobjects/<sobject>", rest_routes.sobject_info, ["GET"]),
        (f"{data}/sobjects/<sobject>", rest_routes.create, ["POST"]),
        (f"{data}/sobjects/<sobject>/describe", rest_routes.describe, ["GET"]),
        (f"{data}/sobjects/<sobject>/updated", rest_routes.updated, ["GET"]),
        (f"{data}/sobjects/<sobject>/deleted", rest_routes.deleted, ["GET"]),
        (f"{data}/sobjects/<sobject>/<record_id>", rest_routes.record, ["GET", "PATCH", "DELETE"]),
        (f"{data}/sobjects/<sobject>/<record_id>/<field>", rest_routes.blob, ["GET"]),
        (f"{data}/query", rest_routes.query, ["GET"]),
        (f"{data}/queryAll", rest_routes.query_all, ["GET"]),
        (f"{data}/query/<locator>", rest_routes.query_more, ["GET"]),
        (f"{data}/queryAll/<locator>", rest_routes.query_more, ["GET"]),
        (f"{data}/jobs/query", bulk_routes.create_job, ["POST"]),
        (f"{data}/jobs/query", bulk_routes.list_jobs, ["GET"]),
        (f"{data}/jobs/query/<job_id>", bulk_routes.job, ["GET", "PATCH", "DELETE"]),
        (f"{data}/jobs/query/<job_id>/results", bulk_routes.results, ["GET"]),
        (job, bulk1_routes.create_job, ["POST"]),
        (f"{job}/<job_id>", bulk1_routes.job, ["GET", "POST"]),
        (f"{job}/<job_id>/batch", bulk1_routes.add_batch, ["POST"]),
        (f"{job}/<job_id>/batch", bulk1_routes.list_batches, ["GET"]),
        (f"{job}/<job_id>/batch/<batch_id>", bulk1_routes.batch, ["GET"]),
        (f"{job}/<job_id>/batch/<batch_id>/request", bulk1_routes.batch_request, ["GET"]),
        (f"{job}/<job_id>/batch/<batch_id>/result", bulk1_routes.results, ["GET"]),
        (f"{job}/<job_id>/batch/<batch_id>/result/<result_id>", bulk1_routes.result, ["GET"]),
        *control_routes.RULES,
    ]
    for path, view, methods in rules:
        app.add_url_rule(path, f"{view.__module__}.{view.__name__}.{'.'.join(methods)}", view, methods=methods)
    app.before_request(_check_request)
    app.after_request(_add_limit_info)
    app.register_error_handler(SalesforceError, salesforce_error)
    app.register_error_handler(OAuthError, oauth_error)
    app.register_error_handler(AsyncApiError, _async_api_error)
    app.register_error_handler(ControlError, lambda e: json_response({"error": str(e)}, 400))
    app.register_error_handler(HTTPException, _http_error)
    # A dropped connection has no response: the write to the shut socket fails quietly.
    app.register_error_handler(ConnectionAbortedError, lambda e: Response(status=500))
    return app


def _check_request() -> Response | None:
    emulator = _emulator()
    path = request.path
    if path.startswith("/__emulator/"):
        return None
    fault = emulator.faults.take(request.method, path, REQUEST_KINDS)
    if fault is not None:
        if fault.kind == "status" and _ASYNC.match(path):
            raise AsyncApiError(fault.status, fault.error_code, fault.message)
        if fault.kind == "status":
            return json_response([{"message": fault.message, "errorCode": fault.error_code}], fault.status)
        if fault.kind == "delay":
            time.sleep(fault.seconds)
        if fault.kind == "drop":
            _drop_connection()
        if fault.kind == "malformed":
            return Response(MALFORMED_BODY, status=200, content_type="application/json;charset=UTF-8")
    match = _VERSIONED.match(path)
    if match is not None:
        if match.group(1) not in API_VERSIONS:
            raise not_found()
        _open_session(emulator, _bearer_token(), invalid_session(), request_limit_exceeded())
        return None
    match = _ASYNC.match(path)
    if match is not None:
        if match.group(1) not in API_VERSIONS:
            raise AsyncApiError(404, "InvalidUrl", f"Unknown API version: {match.group(1)}")
        _open_session(
            emulator,
            request.headers.get("X-SFDC-Session", "").strip(),
            AsyncApiError(401, "InvalidSessionId", "Invalid session id"),
            AsyncApiError(403, "ExceededQuota", "TotalRequests Limit exceeded."),
        )
    return None


def _open_session(emulator: Emulator, token: str, invalid: Exception, exhausted: Exception) -> None:
    """Set g.org and g.session for the token and count the API request; raise `invalid` or `exhausted`."""
    session = emulator.sessions.find(token)
    if session is None:
        raise invalid
    org = emulator.org(session.org)
    g.org, g.session = org, session
    if not org.count_api_request():
        raise exhausted


def _emulator() -> Emulator:
    return current_app.extensions["emulator"]


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else ""


def _drop_connection() -> None:
    """Close the TCP connection without a response, like a load balancer resetting it."""
    connection = request.environ.get("werkzeug.socket")
    if connection is not None:
        connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by an injected fault")


def _add_limit_info(response: Response) -> Response:
    org = g.get("org")
    if org is not None:
        response.headers["Sforce-Limit-Info"] = org.limit_info()
    return response


def _http_error(error: HTTPException) -> Response:
    """Answer an HTTP error in the shape of the API the path belongs to.

    Under /services/ that is Salesforce's error JSON with the codes of the REST API's "Status Codes
    and Error Responses": 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED, and 500 UNKNOWN_EXCEPTION for the
    emulator's own failures (Flask hands any unexpected exception here as a 500 after logging it),
    so that clients retry them as they retry Salesforce's 5xx instead of giving up on a 404.
    """
    if request.path.startswith("/services/async/"):
        if error.code is not None and error.code < 500:
            detail = "The requested resource does not exist" if error.code == 404 else error.description
            return _async_api_error(AsyncApiError(error.code, "InvalidUrl", detail or error.name))
        unknown = unknown_exception()
        return _async_api_error(AsyncApiError(500, "Unknown", unknown.message))
    if request.path.startswith("/services/"):
        if isinstance(error, MethodNotAllowed):  # 405
            return json_response(
                [
                    {
                        "message": f"HTTP Method '{request.method}' not allowed. Allowed are "
                        + ",".join(sorted(error.valid_methods or [])),
                        "errorCode": "METHOD_NOT_ALLOWED",
                    }
                ],
                405,
            )
        if error.code == 404:
            return salesforce_error(not_found())
        if error.code is not None and error.code < 500:
            return salesforce_error(SalesforceError(error.code, _error_code(error), error.description or error.name))
        return salesforce_error(unknown_exception())
    return json_response({"error": error.description}, error.code or 500)


def _error_code(error: HTTPException) -> str:
    """Return an errorCode for an HTTP error Salesforce documents no code for: its name, as BAD_REQUEST."""
    return error.name.upper().replace(" ", "_")


def _async_api_error(error: AsyncApiError) -> Response:
    as_json = "json" in request.headers.get("Content-Type", "").lower()
    body = error_document(error.exception_code, error.message, as_json)
    return Response(body, status=error.status, mimetype=JSON_TYPE if as_json else XML_TYPE)
