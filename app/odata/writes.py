"""Writes through a writable feed: POST, PATCH, PUT and DELETE routed to the org that owns the row.

The one module of `app.odata` that imports `app.salesforce` (an import-linter contract says so).
Each write goes synchronously to the org (its REST API), then the mirror row is refreshed from the
record the org returns, in the same request, through the app's own engine (never the feed's role,
which only reads). Writes to one record are serialized by a transaction-level advisory lock held
from before the org is called until the mirror row commits. Salesforce's errors become OData error
bodies carrying its error code, message and fields. Facts: DESIGN 4.7 and
reference/streaming-writes-governance.md §1.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from flask import Request, Response
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.odata import BadQuery, NotFound, ODataError
from app.odata.catalog import EntitySet
from app.odata.payload import JSON_OPTIONS, register_loaders
from app.odata.session import ReadSession
from app.odata.writable import GEO, WriteTarget, field_values, read_only_properties, write_targets
from app.salesforce import SalesforceError
from app.salesforce.writes import (
    OrgUnreachable,
    WriteClients,
    WriteOutcomeUnknown,
    WriteRefused,
    create_record,
    delete_record,
    read_record,
    update_record,
)
from app.warehouse.record import lock_record, mark_record_deleted, read_systemmodstamp, refresh_record_row
from app.warehouse.state import LogEntry, write_log

log = logging.getLogger(__name__)

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE", "MERGE")
LOCK_TIMEOUT = "20s"  # waiting for another write to the same record; under the 30 s router limit
NOT_FOUND_CODES = ("ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_CROSS_REFERENCE_KEY")
RETRY_AFTER_SECONDS = 300


class WriteRouter:
    """Routes one feed write to its org and refreshes the mirror; built once per web app from the settings."""

    def __init__(self, settings: Settings, engine: Engine):
        self.engine = engine
        self.targets = write_targets(settings)
        self.clients = WriteClients({org.name: org for org in settings.orgs if org.is_loaded})
        self.delete_modes = {org.name: org.delete_mode for org in settings.orgs}

    def read_only(self, sets: Sequence[EntitySet]) -> dict[str, dict[str, str]]:
        """entity set name -> {read-only property: Core term}, for the sets writes may change (for $metadata)."""
        return {s.name: read_only_properties(s, self.targets[s.view]) for s in sets if s.view in self.targets}

    def etag_of(self, call: Any, entity_set: EntitySet, key: Any) -> str | None:
        """The entity's ETag from its mirror row's systemmodstamp; None for a set writes cannot change."""
        target = self.targets.get(entity_set.view)
        if target is None:
            return None
        row = _read_row(self.engine, call, entity_set, str(key))
        org = target.orgs.get(str(row[GEO])) if row else None
        if row is None or org is None:
            return None
        with self.engine.connect() as conn:
            stamp = read_systemmodstamp(conn, org.name, target.sobject, target.record_id(str(key), org.geo))
        return etag(stamp) if stamp else None

    def target(self, entity_set: EntitySet) -> WriteTarget:
        target = self.targets.get(entity_set.view)
        if target is None:
            raise ODataError(
                f"{entity_set.name} is read-only: it is a materialized view or has no [[views]] spec in orgfeed.toml",
                status=405,
                code="MethodNotAllowed",
            )
        return target


def write_method(request: Request) -> str:
    """The write's method: MERGE is PATCH, and POST may tunnel another method in X-HTTP-Method."""
    method = request.method
    tunnelled = request.headers.get("X-HTTP-Method", "").strip().upper()
    if method == "POST" and tunnelled in WRITE_METHODS:
        method = tunnelled
    return "PATCH" if method == "MERGE" else method


def write_entity(
    router: WriteRouter,
    call: Any,
    entity_set: EntitySet,
    key_text: str | None,
    segments: tuple[str, ...],
    request: Request,
    key_value: Callable[[EntitySet, str], Any],
) -> Response:
    """Carries out one write on `entity_set` (`key_text` None: a create) and answers as OData 4.0 says."""
    method = write_method(request)
    if segments:
        raise BadQuery(f"writes go to {entity_set.name} or {entity_set.name}('<id>'), not to /{'/'.join(segments)}")
    target = router.target(entity_set)
    if key_text is None:
        if method != "POST":
            raise ODataError(f"{method} needs a key: {entity_set.name}('<id>')", status=405, code="MethodNotAllowed")
        return _create(router, call, entity_set, target, _body(request), request)
    if method == "POST":
        raise ODataError(
            f"POST goes to the set {entity_set.name}, not to an entity", status=405, code="MethodNotAllowed"
        )
    key = str(key_value(entity_set, key_text))
    current = _read_row(router.engine, call, entity_set, key)
    if current is None:
        raise NotFound(f"{entity_set.name} has no entity with key {key_text}")
    geo = str(current[GEO])
    org = target.orgs.get(geo)
    if org is None:
        raise ODataError(f"no org of view {target.view} has geo {geo!r}", status=409, code="Conflict")
    record_id = target.record_id(key, geo)
    body = None if method == "DELETE" else _body(request)
    values = None
    if body is not None:
        values = field_values(entity_set, target, body, current=current, replace=method == "PUT")
    action = {"DELETE": "Delete"}.get(method, "Update")
    client = _client(router, org.name)
    with router.engine.begin() as conn:
        _lock(conn, org.name, record_id)
        try:
            if_match = request.headers.get("If-Match")
            if if_match is not None:
                _check_etag(client, target, record_id, if_match)
            if values is None:
                delete_record(client, target.sobject, record_id)
                mark_record_deleted(
                    conn, org.name, target.sobject, record_id, hard=router.delete_modes[org.name] == "hard"
                )
                stamp = None
            else:
                if values:
                    update_record(client, target.sobject, record_id, values)
                record = read_record(client, target.sobject, record_id)
                refresh_record_row(conn, org.name, target.sobject, record)
                stamp = record.get("SystemModstamp")
        except SalesforceError as error:
            _log_write(conn, call, org.name, target.sobject, record_id, action, error)
            return _salesforce_error(error, entity_set, call)
        _log_write(conn, call, org.name, target.sobject, record_id, action, None)
    if method == "DELETE" or "return=representation" not in ",".join(request.headers.getlist("Prefer")).lower():
        response = Response(status=204)
        if stamp:
            response.headers["ETag"] = etag(stamp)
        return response
    return _entity_response(router.engine, call, entity_set, key, stamp, status=200)


def _create(
    router: WriteRouter, call: Any, entity_set: EntitySet, target: WriteTarget, body: dict, request: Request
) -> Response:
    properties = {column.property.lower(): column.name for column in entity_set.columns}
    given = {properties.get(name.lower()): value for name, value in body.items() if "@" not in name}
    if given.get("id") is not None:
        raise BadQuery("id is assigned by Salesforce: leave it out of a create", target="id")
    geo = given.get(GEO) or call.feed.default_geo
    if geo is None:
        raise BadQuery(
            "a create needs a geo property (the org to create the record in), or the feed's default_geo", target="geo"
        )
    org = target.orgs.get(geo) if isinstance(geo, str) else None
    if org is None:
        raise BadQuery(f"geo {geo!r} is not one of {', '.join(sorted(target.orgs))}", target="geo")
    if call.feed.geos is not None and geo not in call.feed.geos:
        # A scoped feed writes only its geos' rows (updates and deletes of others find no row: 404).
        raise BadQuery(f"geo {geo!r} is outside this feed's scope ({', '.join(call.feed.geos)})", target="geo")
    rest = {name: value for name, value in body.items() if properties.get(name.lower()) not in ("id", GEO)}
    values = field_values(entity_set, target, rest)
    client = _client(router, org.name)
    try:
        record_id = create_record(client, target.sobject, values)
    except SalesforceError as error:
        with router.engine.begin() as conn:
            _log_write(conn, call, org.name, target.sobject, None, "Create", error)
        return _salesforce_error(error, entity_set, call)
    stamp = None
    try:
        record = read_record(client, target.sobject, record_id)
        stamp = record.get("SystemModstamp")
        with router.engine.begin() as conn:
            _lock(conn, org.name, record_id)
            refresh_record_row(conn, org.name, target.sobject, record)
            _log_write(conn, call, org.name, target.sobject, record_id, "Create", None)
    except SalesforceError as error:
        # Created, but not re-read: the next sync brings the row; the client still gets its key.
        log.warning(
            "created %s %s in org %s; the mirror waits for the next sync: %s",
            target.sobject,
            record_id,
            org.name,
            error,
        )
    key = target.key_of(record_id, geo)
    location = f"{call.service_root}{entity_set.name}('{key}')"
    if "return=minimal" in ",".join(request.headers.getlist("Prefer")).lower():
        response = Response(status=204)
        response.headers["OData-EntityId"] = location
        response.headers["Preference-Applied"] = "return=minimal"
    else:
        response = _entity_response(router.engine, call, entity_set, key, stamp, status=201)
    response.headers["Location"] = location
    return response


def _lock(conn: Connection, org: str, record_id: str) -> None:
    """Takes the record's write lock, waiting at most LOCK_TIMEOUT for the write holding it."""
    conn.execute(text(f"set local lock_timeout = '{LOCK_TIMEOUT}'"))
    try:
        lock_record(conn, org, record_id)
    except DBAPIError as error:
        if isinstance(error.orig, psycopg.errors.LockNotAvailable):
            raise ODataError(
                f"another write to {record_id} is still running: try again", status=409, code="Conflict"
            ) from error
        raise


def _client(router: WriteRouter, org: str) -> Any:
    try:
        return router.clients.client(org)
    except OrgUnreachable as error:
        log.error("writes to org %s: %s", org, error)
        raise ODataError(
            f"org {org!r} cannot be reached or logged in to: try again later", status=503, code="OrgUnavailable"
        ) from error


def _body(request: Request) -> dict:
    raw = request.get_data(cache=False)
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as error:
        raise BadQuery(f"the request body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadQuery("the request body must be a JSON object of properties")
    return body


def _select_row(
    engine: Engine, call: Any, entity_set: EntitySet, key: str, *, ieee754: bool | None = None
) -> tuple[Any, ...] | None:
    """The view's row with `key`, read as the feed's role from the primary; `ieee754` loads OData JSON values."""
    session = ReadSession(engine, call.feed.role_name, started=call.started)
    try:
        with session.cursor() as cursor:
            if ieee754 is not None:
                register_loaders(cursor, ieee754=ieee754)
            return cursor.execute(
                f"select {', '.join(column.sql for column in entity_set.columns)} from {entity_set.sql_name} "
                f"where {entity_set.key.sql} = %(key)s limit 1",
                {"key": key},
            ).fetchone()
    finally:
        session.close()


def _read_row(engine: Engine, call: Any, entity_set: EntitySet, key: str) -> dict[str, Any] | None:
    """The row with `key` as the view shows it (column -> value)."""
    row = _select_row(engine, call, entity_set, key)
    return None if row is None else {column.name: value for column, value in zip(entity_set.columns, row)}


def _entity_response(
    engine: Engine, call: Any, entity_set: EntitySet, key: str, stamp: str | None, *, status: int
) -> Response:
    row = _select_row(engine, call, entity_set, key, ieee754=call.ieee754)
    entity: dict[str, Any] = {"@odata.context": f"{call.service_root}$metadata#{entity_set.name}/$entity"}
    if stamp:
        entity["@odata.etag"] = etag(stamp)
    if row is None:
        entity[entity_set.key.property] = key
    else:
        entity.update(zip((column.property for column in entity_set.columns), row))
    content_type = "application/json;odata.metadata=minimal" + (";IEEE754Compatible=true" if call.ieee754 else "")
    response = Response(orjson.dumps(entity, option=JSON_OPTIONS), status=status, content_type=content_type)
    if stamp:
        response.headers["ETag"] = etag(stamp)
    return response


def etag(systemmodstamp: str | datetime) -> str:
    """The entity's ETag: its SystemModstamp (UTC, milliseconds), weak."""
    moment = systemmodstamp if isinstance(systemmodstamp, datetime) else parse_stamp(systemmodstamp)
    return 'W/"' + moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") + '"'


def parse_stamp(text_value: str) -> datetime:
    """A REST API datetime (`2024-01-31T09:30:00.000+0000`) as an aware datetime."""
    return datetime.fromisoformat(re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text_value))


def _check_etag(client: Any, target: WriteTarget, record_id: str, if_match: str) -> None:
    """412 unless `if_match` names the record's current version (as the org has it, not only the mirror)."""
    if if_match.strip() == "*":
        return
    record = read_record(client, target.sobject, record_id)
    current = etag(record["SystemModstamp"])
    wanted = [tag.strip() for tag in if_match.split(",")]
    if current not in wanted and current.removeprefix("W/") not in wanted:
        raise ODataError(
            f"the entity changed since the ETag {if_match} was read (now {current}): read it again",
            status=412,
            code="PreconditionFailed",
        )


def _log_write(
    conn: Connection,
    call: Any,
    org: str,
    sobject: str,
    record_id: str | None,
    action: str,
    error: SalesforceError | None,
) -> None:
    """A sync log entry for one write, naming the feed and user it came through."""
    through = f"through feed {call.feed.name} (user {call.feed.username})"
    write_log(
        conn,
        LogEntry(
            org=org,
            sobject=sobject,
            record_id=record_id,
            action=action,
            status="Failed" if error else "Succeeded",
            error_code=error.error_code if error else None,
            message=f"{error} ({through})"[:2000] if error else f"{action} {through}",
        ),
    )


def _salesforce_error(error: SalesforceError, entity_set: EntitySet, call: Any) -> Response:
    """Salesforce's refusal as an OData error body: its error code, message and the fields it names."""
    headers: dict[str, str] = {}
    if isinstance(error, WriteOutcomeUnknown):
        log.error("write outcome unknown (the next sync settles the mirror): %s", error)
        status, code, message = (
            504,
            "OutcomeUnknown",
            f"{error}: the write may or may not be applied; read the entity again",
        )
    elif isinstance(error, OrgUnreachable):
        status, code, message = 503, "OrgUnavailable", str(error)
    elif error.error_code == "REQUEST_LIMIT_EXCEEDED":
        status, code, message = 503, error.error_code, str(getattr(error, "detail", error))
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    elif isinstance(error, WriteRefused):
        code, message = error.error_code or "BadRequest", error.detail
        if error.error_code in NOT_FOUND_CODES or error.status == 404:
            status = 404
        elif error.status is not None and error.status >= 500:
            status = 502
        else:
            status = 400 if error.status != 412 else 412
    else:
        status, code, message = 502, error.error_code or "BadGateway", str(error)
    fields = getattr(error, "fields", ())
    properties = _properties_of(entity_set, fields)
    body: dict[str, Any] = {"code": code, "message": message}
    if properties:
        body["target"] = properties[0]
        body["details"] = [{"code": code, "message": message, "target": name} for name in properties]
    call.log["rows"] = 0
    return Response(orjson.dumps({"error": body}), status=status, content_type="application/json", headers=headers)


def _properties_of(entity_set: EntitySet, fields: Sequence[str]) -> list[str]:
    """The properties behind Salesforce field names (as Salesforce spells them when no column shows the field)."""
    by_name: Mapping[str, str] = {column.name: column.property for column in entity_set.columns}
    return [by_name.get(field.lower(), field) for field in fields]
