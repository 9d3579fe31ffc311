"""The Flask app factory: every URL of the web process is registered here.

`create_app(settings)` serves each feed at /odata/v4/<feed>/ (the `odata` blueprint) and the
dashboard at / (`app.dashboard`'s blueprint, behind ORGFEED_ADMIN_PASSWORD). Every response carries
`OData-Version: 4.0`; errors are OData JSON error bodies; responses are gzipped when the client
accepts it and gzip request bodies are inflated before Flask sees them.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import orjson
import psycopg
from flask import Blueprint, Flask, Response, g, request
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Settings
from app.odata import BadQuery, NotFound, NotImplementedFeature, ODataError
from app.odata.accesslog import AccessLog
from app.odata.auth import authenticate, basic_credentials, fetch_on
from app.odata.catalog import find_entity_set
from app.odata.credentials import FailureThrottle, ThrottlePolicy, VerifiedCache
from app.odata.paging import preferred_page_size
from app.odata.query import split_query_string
from app.odata.resources import (
    Call,
    Catalog,
    key_value,
    metadata_document,
    parse_resource_path,
    resource,
    service_document,
)
from app.odata.session import QueryTimeout, ReadSession, ping_when_idle
from app.odata.writes import WriteRouter, write_entity

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

REALM = 'Basic realm="orgfeed"'
READ_METHODS = ("GET", "HEAD")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "MERGE"]
MAX_REQUEST_BODY = 8 * 1024 * 1024  # Salesforce Connect's request limit
GZIP_MIN_BYTES = 1024
RETRY_AFTER_SECONDS = 5  # a 503 while the database restarts or fails over: PostgreSQL restarts take seconds
DEFAULT_THROTTLE = ThrottlePolicy()
# PostgreSQL errors caused by what a client wrote (bad values, impossible comparisons): 400, not 500.
_CLIENT_SQLSTATES = ("22", "42883", "42804", "42725", "2201B")


class Unauthorized(ODataError):
    status = 401
    code = "Unauthorized"


class ODataExtension:
    """What the routes share: engines, the catalog cache, verified-password cache and failure throttle."""

    def __init__(
        self, engine: Engine, odata_engine: Engine, throttle: FailureThrottle, catalog_ttl: float, writes: WriteRouter
    ):
        self.engine = engine
        self.writes = writes
        self.odata_engine = odata_engine
        self.throttle = throttle
        self.verified = VerifiedCache()
        self.catalog = Catalog(catalog_ttl)
        self.access_log = AccessLog(engine)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    odata_engine: Engine | None = None,
    throttle_policy: ThrottlePolicy = DEFAULT_THROTTLE,
    trusted_proxies: int = 0,
    catalog_ttl: float = 5.0,
    threads: int = 8,
) -> Flask:
    """The web app. `engine` reads feeds and writes the access log; `odata_engine` (ODATA_DATABASE_URL, a
    follower) reads the views, defaulting to `engine`. `trusted_proxies`: how many proxies (Heroku's router: 1)
    set X-Forwarded-For/-Proto, which then give the client address and the scheme of absolute links.
    `threads`: requests served at once (gunicorn's --threads): engines made here pool one connection per
    thread (and one for the access log's writer), pinged only after sitting idle."""
    from app.dashboard.blueprint import create_dashboard
    from app.warehouse.database import create_database_engine, resolve_database_url

    if engine is None:
        engine = ping_when_idle(
            create_database_engine(
                resolve_database_url(settings.database),
                application_name="orgfeed-web",
                pool_size=threads + 1,
                pre_ping=False,
            )
        )
    if odata_engine is None:
        odata_engine = (
            ping_when_idle(
                create_database_engine(
                    settings.database.odata_url, application_name="orgfeed-odata", pool_size=threads, pre_ping=False
                )
            )
            if settings.database.odata_url
            else engine
        )
    app = Flask(__name__)
    app.extensions["orgfeed.odata"] = ODataExtension(
        engine, odata_engine, FailureThrottle(throttle_policy), catalog_ttl, WriteRouter(settings, engine)
    )

    odata = Blueprint("odata", __name__, url_prefix="/odata/v4")
    odata.add_url_rule("/<feed>", "service_root", service_root_view, methods=ALL_METHODS, strict_slashes=False)
    odata.add_url_rule("/<feed>/$metadata", "metadata", metadata_view, methods=ALL_METHODS)
    odata.add_url_rule("/<feed>/$batch", "batch", batch_view, methods=ALL_METHODS)
    odata.add_url_rule("/<feed>/<path:path>", "resource", resource_view, methods=ALL_METHODS)
    odata.before_request(begin_odata_request)
    odata.after_request(finish_odata_request)
    odata.teardown_request(close_odata_session)
    app.register_blueprint(odata)
    app.register_blueprint(create_dashboard(settings, engine))

    app.register_error_handler(ODataError, odata_error_response)
    app.register_error_handler(HTTPException, http_error_response)
    app.register_error_handler(psycopg.Error, database_error_response)
    app.register_error_handler(DBAPIError, lambda error: database_error_response(error.orig))  # via SQLAlchemy
    app.register_error_handler(Exception, internal_error_response)
    app.after_request(add_common_headers)
    wsgi_app: GzipRequestBody | ProxyFix = GzipRequestBody(app.wsgi_app)
    if trusted_proxies:
        wsgi_app = ProxyFix(wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies)
    app.wsgi_app = wsgi_app  # type: ignore[method-assign]  # Flask types wsgi_app a method, documents replacing it
    return app


def _extension() -> ODataExtension:
    from flask import current_app

    return current_app.extensions["orgfeed.odata"]


# -- routes ------------------------------------------------------------------------------------


def service_root_view(feed: str) -> Response:
    return service_document(_extension().catalog, _read_call(feed))


def metadata_view(feed: str) -> Response:
    call = _read_call(feed)
    writable = _extension().writes.read_only if call.feed.writable else None
    return metadata_document(_extension().catalog, call, as_json=_wants_csdl_json(), writable=writable)


def batch_view(feed: str) -> Response:
    _read_call(feed, methods=ALL_METHODS)
    raise NotImplementedFeature("$batch is not supported: send each request on its own")


def resource_view(feed: str, path: str) -> Response:
    extension = _extension()
    if request.method not in READ_METHODS:
        return write_view(feed, path)
    call = _read_call(feed)
    resource_path = parse_resource_path(path)
    if call.feed.writable:
        call.etag = lambda entity_set, key: extension.writes.etag_of(call, entity_set, key)
    try:
        return resource(extension.catalog, call, resource_path)
    except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable):
        # A view was rebuilt with other columns (`views apply`) after the catalog was cached: read it again, once.
        extension.catalog.forget(call.feed.views, call.feed.schema)
        call.session = _open_session(call.feed.role_name)
        return resource(extension.catalog, call, resource_path)


def write_view(feed: str, path: str) -> Response:
    """POST, PATCH, PUT, DELETE (and MERGE) on a writable feed's entity set or entity; 405 on a read-only feed."""
    call = _read_call(feed, methods=ALL_METHODS)
    if not call.feed.writable:
        raise ODataError(f"{request.method} is not allowed: the feed is read-only", status=405, code="MethodNotAllowed")
    if (request.content_length or 0) > MAX_REQUEST_BODY:
        raise ODataError("the request body is larger than 8 MB", status=413, code="PayloadTooLarge")
    extension = _extension()
    resource_path = parse_resource_path(path)
    session = ReadSession(extension.engine, call.feed.role_name, started=call.started)
    try:
        entity_set = find_entity_set(
            extension.catalog.entity_sets(session, call.feed.views, call.feed.schema), resource_path.entity_set
        )
    finally:
        session.close()
    if entity_set is None:
        raise NotFound(f"the feed {call.feed.name!r} has no entity set {resource_path.entity_set!r}")
    call.log["entity_set"] = entity_set.name
    return write_entity(
        extension.writes, call, entity_set, resource_path.key, resource_path.segments, request, key_value
    )


# -- request handling --------------------------------------------------------------------------


def begin_odata_request() -> None:
    g.odata_started = time.monotonic()
    g.odata_log = {
        "feed": (request.view_args or {}).get("feed", "")[:63] or None,
        "username": None,
        "entity_set": None,
        "rows": None,
    }
    for header in ("OData-Version", "OData-MaxVersion"):
        value = request.headers.get(header)
        if value is not None and not _version_ok(header, value.strip()):
            raise BadQuery(f"{header}: {value!r} is not supported: this service speaks OData 4.0 (and 4.01 syntax)")


def _version_ok(header: str, value: str) -> bool:
    match = re.fullmatch(r"(\d+)\.(\d+)", value)
    if not match:
        return False
    version = (int(match.group(1)), int(match.group(2)))
    return version in ((4, 0), (4, 1)) if header == "OData-Version" else version >= (4, 0)


def _read_call(feed: str, methods: Iterable[str] = READ_METHODS) -> Call:
    """Authenticates the request for `feed` and checks its method; the Call the resource handlers take."""
    extension = _extension()
    credentials = basic_credentials(request.headers.get("Authorization"))
    if credentials is None:
        raise Unauthorized("authentication required: HTTP Basic with the feed's username and password")
    username, password = credentials
    g.odata_log["username"] = username[:63]
    session = _open_session(None)
    # The credentials live with the feeds in DATABASE_URL: read on the request's session unless the views
    # come from a follower (ODATA_DATABASE_URL).
    fetch = session.fetch if extension.engine is extension.odata_engine else fetch_on(extension.engine)
    authenticated = authenticate(fetch, extension.verified, feed, username, password)
    client = request.remote_addr or "unknown"
    if authenticated is None:
        delay = extension.throttle.record_failure(client)
        if delay:
            time.sleep(delay)
        raise Unauthorized("invalid username or password for this feed")
    extension.throttle.record_success(client)
    session.use_role(authenticated.role_name)
    if request.method not in methods:
        raise ODataError(f"{request.method} is not allowed: the feed is read-only", status=405, code="MethodNotAllowed")
    query_string = request.query_string.decode("latin-1")
    format_option = next(
        (value for name, value, _ in split_query_string(query_string) if name.lower().removeprefix("$") == "format"),
        None,
    )
    if format_option is not None and request.endpoint != "odata.metadata" and not _is_json(format_option):
        raise ODataError(
            f"$format={format_option}: this service answers in JSON only", status=406, code="NotAcceptable"
        )
    accept = request.headers.get("Accept", "")
    plain = request.path.endswith(("/$count", "/$value"))
    if format_option is None and request.endpoint != "odata.metadata" and not _acceptable(accept, plain=plain):
        raise ODataError(
            f"Accept: {accept}: this service answers in JSON only" + (" (and text/plain here)" if plain else ""),
            status=406,
            code="NotAcceptable",
        )
    ieee754 = bool(
        re.search(
            r"ieee754compatible\s*=\s*true", (format_option or "") + request.headers.get("Accept", ""), re.IGNORECASE
        )
    )
    service_root = f"{request.url_root}odata/v4/{feed}/"
    return Call(
        feed=authenticated,
        session=session,
        service_root=service_root,
        base_url=request.base_url,
        query_string=query_string,
        started=g.odata_started,
        ieee754=ieee754,
        page_size=preferred_page_size(request.headers.getlist("Prefer")),
        log=g.odata_log,
    )


def _open_session(role: str | None) -> ReadSession:
    """The request's read session on the views' database (closed by the handler, or at teardown)."""
    session = ReadSession(_extension().odata_engine, started=g.odata_started)
    session.use_role(role)
    g.odata_session = session
    return session


def close_odata_session(error: BaseException | None = None) -> None:
    """Returns the request's connection to the pool if no handler did (a refused or failed request)."""
    session = g.pop("odata_session", None)
    if session is not None:
        session.close()


def _acceptable(accept: str, *, plain: bool) -> bool:
    """False when `Accept` names media types and none (with q above 0) is JSON, or text/plain where `plain`
    (/$count, /$value); `$format` overrides it (checked first). Items without a `/` are ignored."""
    answered = {"application/json", "application/*", "*/*"} | ({"text/plain", "text/*"} if plain else set())
    ranges = []
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        if "/" not in media:
            continue
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 1.0
        ranges.append((media.lower(), quality))
    return not ranges or any(media in answered and quality > 0 for media, quality in ranges)


def _is_json(value: str) -> bool:
    return value.split(";", maxsplit=1)[0].strip().lower() in ("json", "application/json")


def _wants_csdl_json() -> bool:
    format_option = next(
        (
            value
            for name, value, _ in split_query_string(request.query_string.decode("latin-1"))
            if name.lower().removeprefix("$") == "format"
        ),
        None,
    )
    if format_option is not None:
        if _is_json(format_option):
            return True
        if format_option.split(";")[0].strip().lower() in ("xml", "application/xml"):
            return False
        raise ODataError(
            f"$format={format_option}: $metadata is served as XML or JSON", status=406, code="NotAcceptable"
        )
    accept = request.headers.get("Accept", "").lower()
    return "application/json" in accept and "xml" not in accept and "*/*" not in accept


def finish_odata_request(response: Response) -> Response:
    entry = dict(g.get("odata_log") or {})
    started = g.get("odata_started", time.monotonic())
    access_log = _extension().access_log
    method, path = request.method[:8], request.full_path.rstrip("?")
    client = (request.remote_addr or "")[:64]
    live = g.get("odata_log")

    def write() -> None:
        entry.update(live or {})
        access_log.record(
            {
                "feed": entry.get("feed"),
                "username": entry.get("username"),
                "client": client,
                "method": method,
                "path": path,
                "entity_set": entry.get("entity_set"),
                "rows": entry.get("rows"),
                "status": response.status_code,
                "duration_ms": int((time.monotonic() - started) * 1000),
            }
        )

    response.call_on_close(write)
    return response


def add_common_headers(response: Response) -> Response:
    response.headers["OData-Version"] = "4.0"
    if request.headers.get("X-CSRF-Token", "").lower() == "fetch":
        # Salesforce Connect may fetch a CSRF token before writes; orgfeed requires none (writes use Basic auth).
        response.headers["X-CSRF-Token"] = "unused"
    if response.status_code == 401:
        response.headers.setdefault("WWW-Authenticate", REALM)
    return compress_response(response)


# -- errors ------------------------------------------------------------------------------------


def error_body(status: int, code: str, message: str, target: str | None = None) -> Response:
    error = {"code": code, "message": message}
    if target:
        error["target"] = target
    response = Response(orjson.dumps({"error": error}), status=status, content_type="application/json")
    if status == 405:
        response.headers["Allow"] = ", ".join(READ_METHODS)
    return response


def odata_error_response(error: ODataError) -> Response:
    return error_body(error.status, error.code, error.message, error.target)


def http_error_response(error: HTTPException) -> Response:
    code = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}.get(error.code or 500, "Error")
    return error_body(error.code or 500, code, error.description or error.name)


def internal_error_response(error: Exception) -> Response:
    """A bug: logged with its traceback, answered as an OData error body."""
    log.exception("unexpected error serving %s", request.path, exc_info=error)
    return error_body(500, "InternalError", "the server failed to answer this request")


def database_error_response(error: psycopg.Error) -> Response:
    """A database error as an OData error: the client's fault (bad value) is 400, a timeout 503."""
    sqlstate = getattr(error, "sqlstate", None) or ""
    first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, psycopg.errors.QueryCanceled):
        return odata_error_response(
            QueryTimeout("the query ran longer than the feed's 25 s limit; narrow $filter or page")
        )
    if sqlstate.startswith(_CLIENT_SQLSTATES) or (isinstance(error, psycopg.DataError) and not sqlstate):
        return error_body(400, "BadRequest", f"the query cannot be evaluated: {first_line}")
    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        log.error("feed read role lacks a privilege: %s", first_line)
        return error_body(
            503,
            "FeedMisconfigured",
            "the feed's database role cannot read a view: run `orgfeed feeds create <feed> --views ...` again",
        )
    if isinstance(error, psycopg.OperationalError):
        log.error("database unavailable: %s", first_line)
        response = error_body(503, "DatabaseUnavailable", "the database is unavailable; try again shortly")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.exception("database error")
    return error_body(500, "InternalError", "the server could not run the query")


# -- compression -------------------------------------------------------------------------------


def _accepts_gzip() -> bool:
    for item in request.headers.get("Accept-Encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return not re.search(r"q\s*=\s*0(?:\.0*)?\s*$", params)
    return False


class GzipBody:
    """Gzips a (possibly streamed) body chunk by chunk, closing the inner body when closed."""

    def __init__(self, inner: Iterable[str] | Iterable[bytes]):
        self.inner = inner

    def __iter__(self) -> Iterator[bytes]:
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # level 1: pages are large and the CPU is shared
        for chunk in self.inner:
            if isinstance(chunk, str):
                chunk = chunk.encode()
            out = compressor.compress(chunk)
            if out:
                yield out
        yield compressor.flush()

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def compress_response(response: Response) -> Response:
    if (
        response.status_code < 200
        or response.status_code in (204, 304)
        or "Content-Encoding" in response.headers
        or request.method == "HEAD"
        or not _accepts_gzip()
    ):
        return response
    response.vary.add("Accept-Encoding")
    if response.is_streamed:
        response.response = GzipBody(response.response)
        response.headers.pop("Content-Length", None)
    else:
        body = response.get_data()
        if len(body) < GZIP_MIN_BYTES:
            return response
        response.set_data(gzip.compress(body, compresslevel=1))
    response.headers["Content-Encoding"] = "gzip"
    return response


class GzipRequestBody:
    """WSGI middleware: a request body sent with `Content-Encoding: gzip` is inflated (at most 8 MB)."""

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                body = gzip.GzipFile(fileobj=io.BytesIO(environ["wsgi.input"].read(length))).read(MAX_REQUEST_BODY + 1)
            except (OSError, EOFError, zlib.error):
                return _plain_error(start_response, 400, "BadRequest", "the gzip request body is corrupt")
            if len(body) > MAX_REQUEST_BODY:
                return _plain_error(start_response, 413, "PayloadTooLarge", "the request body is larger than 8 MB")
            environ = dict(environ, CONTENT_LENGTH=str(len(body)))
            environ["wsgi.input"] = io.BytesIO(body)
            environ.pop("HTTP_CONTENT_ENCODING", None)
        return self.wsgi_app(environ, start_response)


def _plain_error(start_response: StartResponse, status: int, code: str, message: str) -> list[bytes]:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    reason = {400: "BAD REQUEST", 413: "REQUEST ENTITY TOO LARGE"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("OData-Version", "4.0")],
    )
    return [body]
