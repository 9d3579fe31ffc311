"""The control API under /__emulator/: JSON mirrors of the Emulator's control methods.

See README.md beside this file for every endpoint with its body and answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Response, current_app, request

from app.emulator.emulator import Emulator
from app.emulator.errors import ControlError
from app.emulator.routes.responses import json_response


def _emulator() -> Emulator:
    return current_app.extensions["emulator"]


def _body() -> dict[str, Any]:
    """The request's JSON object; its values are as the client sent them, for the caller to check."""
    try:
        body = orjson.loads(request.get_data() or b"{}")
    except orjson.JSONDecodeError as error:
        raise ControlError(f"the request body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise ControlError("the request body must be a JSON object")
    return body


def _list(body: dict[str, object], key: str) -> list:
    value = body.get(key)
    if not isinstance(value, list):
        raise ControlError(f"the body needs a list {key!r}")
    return value


def orgs() -> Response:
    return json_response({"orgs": _emulator().describe_orgs()})


def seed(org: str, sobject: str) -> Response:
    rows = _body().get("rows")
    if not isinstance(rows, int) or rows < 0:
        raise ControlError("seed needs a non-negative integer 'rows'")
    return json_response({"rows": _emulator().seed(org, sobject, rows)})


def records(org: str, sobject: str) -> Response:
    body = _body()
    if request.method == "PATCH":
        return json_response({"updated": _emulator().update(org, sobject, _list(body, "records"))})
    return json_response({"ids": _emulator().insert(org, sobject, _list(body, "records"))})


def delete(org: str, sobject: str) -> Response:
    return json_response({"deleted": _emulator().delete(org, sobject, _list(_body(), "ids"))})


def undelete(org: str, sobject: str) -> Response:
    return json_response({"undeleted": _emulator().undelete(org, sobject, _list(_body(), "ids"))})


def purge(org: str, sobject: str) -> Response:
    body = _body()
    ids = _list(body, "ids") if "ids" in body else None
    return json_response({"purged": _emulator().purge(org, sobject, ids, bool(body.get("trim_delete_log", False)))})


def add_field(org: str, sobject: str) -> Response:
    body = _body()
    name, field_type = body.pop("name", None), body.pop("type", None)
    if not isinstance(name, str) or not isinstance(field_type, str):
        raise ControlError("a new field needs 'name' and 'type'")
    try:
        field = _emulator().add_field(org, sobject, name, field_type, **body)
    except TypeError as error:
        raise ControlError(f"unknown field attribute: {error}") from None
    return json_response({"name": field.name, "type": field.type}, 201)


def change_field(org: str, sobject: str, name: str) -> Response:
    emulator = _emulator()
    if request.method == "DELETE":
        emulator.remove_field(org, sobject, name)
        return json_response({"removed": name})
    body = _body()
    field_type = body.get("type")
    if not isinstance(field_type, str):
        raise ControlError("retyping a field needs 'type'")
    emulator.retype_field(
        org,
        sobject,
        name,
        field_type,
        body.get("length"),
        body.get("precision"),
        body.get("scale"),
    )
    return json_response({"name": name, "type": field_type})


def validation_rules(org: str, sobject: str) -> Response:
    emulator = _emulator()
    if request.method == "DELETE":
        emulator.clear_validation_rules()
        return json_response({"rules": []})
    body = _body()
    field, message = body.get("field"), body.get("message", "The record does not pass a validation rule.")
    if not isinstance(field, str) or not isinstance(message, str):
        raise ControlError("a validation rule needs a 'field' (and optionally 'equals' and 'message')")
    rule = emulator.add_validation_rule(org, sobject, field, body.get("equals"), message)
    return json_response({"field": rule.field, "equals": rule.equals, "message": rule.message}, 201)


def faults() -> Response:
    emulator = _emulator()
    if request.method == "DELETE":
        emulator.clear_faults()
    elif request.method == "POST":
        body = _body()
        kind = body.pop("kind", None)
        if not isinstance(kind, str):
            raise ControlError("a fault needs 'kind'")
        try:
            emulator.inject_fault(kind, **body)
        except TypeError as error:
            raise ControlError(f"unknown fault option: {error}") from None
    return json_response({"faults": emulator.faults.pending()})


def expire_sessions() -> Response:
    return json_response({"expired": _emulator().expire_sessions()})


def session(org: str) -> Response:
    username = _body().get("username")
    return json_response({"access_token": _emulator().session_id(org, username)})


def api_allocation(org: str) -> Response:
    body = _body()
    maximum = body.get("max")
    if not isinstance(maximum, int):
        raise ControlError("the allocation needs an integer 'max'")
    return json_response(_emulator().set_api_allocation(org, maximum, body.get("used")))


def clock() -> Response:
    emulator = _emulator()
    if request.method == "POST":
        seconds = _body().get("advance_seconds")
        if not isinstance(seconds, (int, float)):
            raise ControlError("advancing the clock needs a number 'advance_seconds'")
        emulator.advance_clock(seconds)
    return json_response({"now": emulator.clock.now().isoformat(), "offset_seconds": emulator.clock.offset_seconds})


def pubsub_fault(org: str) -> Response:
    body = _body()
    ids = body.get("ids", [])
    if not isinstance(body.get("kind"), str) or not isinstance(ids, list):
        raise ControlError("a Pub/Sub fault needs 'kind' (drop, expire, gap, overflow) and, for gap, a list 'ids'")
    sobject = body.get("sobject")
    kind, change_type = str(body["kind"]), str(body.get("change_type", "GAP_UPDATE"))
    count = _emulator().pubsub_fault(kind, org, str(sobject) if sobject else None, ids, change_type)
    return json_response({"events": count})


_OBJECT = "/__emulator/orgs/<org>/sobjects/<sobject>"
RULES: list[tuple[str, Callable[..., Response], list[str]]] = [
    ("/__emulator/orgs", orgs, ["GET"]),
    (f"{_OBJECT}/seed", seed, ["POST"]),
    (f"{_OBJECT}/records", records, ["POST", "PATCH"]),
    (f"{_OBJECT}/delete", delete, ["POST"]),
    (f"{_OBJECT}/undelete", undelete, ["POST"]),
    (f"{_OBJECT}/purge", purge, ["POST"]),
    (f"{_OBJECT}/fields", add_field, ["POST"]),
    (f"{_OBJECT}/fields/<name>", change_field, ["PATCH", "DELETE"]),
    (f"{_OBJECT}/validation-rules", validation_rules, ["POST", "DELETE"]),
    ("/__emulator/faults", faults, ["GET", "POST", "DELETE"]),
    ("/__emulator/sessions/expire", expire_sessions, ["POST"]),
    ("/__emulator/orgs/<org>/sessions", session, ["POST"]),
    ("/__emulator/orgs/<org>/limits", api_allocation, ["PUT"]),
    ("/__emulator/clock", clock, ["GET", "POST"]),
    ("/__emulator/orgs/<org>/pubsub/faults", pubsub_fault, ["POST"]),
]
