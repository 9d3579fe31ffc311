"""The HTTPS server: threaded Werkzeug on a certificate from a fresh trustme CA, with persistent connections.

Werkzeug's development server answers every request with `Connection: close`, so each request
pays a TCP and TLS handshake; Salesforce keeps connections alive (HTTP/1.1, RFC 9112 section 9.3),
and benchmarks against the emulator should measure the client, not reconnects. The request
handler here therefore writes the response itself: HTTP/1.1 keep-alive unless the client asks to
close, `Content-Length` or chunked framing, the request body read to its end before the next
request, and the status line, headers and first body bytes in one write (with TCP_NODELAY), so
no response waits on Nagle's algorithm. Each connection's TLS handshake runs on its own thread.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import trustme
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

IDLE_SECONDS = 120  # an idle persistent connection is closed after this long
NO_BODY_STATUSES = frozenset({204, 304})


class KeepAliveRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler speaking persistent HTTP/1.1, without a log line per request."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS
    disable_nagle_algorithm = True
    server: KeepAliveServer

    def handle(self) -> None:
        try:
            self.connection.do_handshake()
        except OSError:  # ssl.SSLError included: the client left or does not trust the CA
            return
        self.server.track(self.connection, True)
        try:
            super().handle()
        finally:
            self.server.track(self.connection, False)

    def run_wsgi(self) -> None:
        # http.server's parse_request has already answered `Expect: 100-continue`.
        self.environ = environ = self.make_environ()
        body = self._request_body(environ)
        response = _ResponseWriter(self)
        try:
            chunks = self.server.app(environ, response.start)
            try:
                for chunk in chunks:
                    response.write(chunk)
                response.finish()
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except OSError as error:  # the client went away (ssl.SSLError and timeouts included)
            self.close_connection = True
            self.connection_dropped(error, environ)
            return
        except Exception:  # noqa: BLE001 - a body that fails mid-way can only be cut off
            self.close_connection = True
            if not response.sent:
                self._answer_internal_error(response)
            return
        try:
            body.read()  # what the app left unread would be taken for the next request
        except (OSError, ValueError):
            self.close_connection = True

    def _request_body(self, environ: dict[str, Any]) -> Any:
        """Give the app a body stream that stops at the end of this request's body."""
        if environ.get("wsgi.input_terminated"):  # chunked: Werkzeug's DechunkedInput ends at the last chunk
            return environ["wsgi.input"]
        raw = self.headers.get("Content-Length", "0").strip() or "0"
        length = int(raw) if raw.isdigit() else 0
        if not raw.isdigit():
            self.close_connection = True  # the body's end is unknown: this connection cannot carry another request
        # typeshed types a socket file as BufferedIOBase, which is not IO[bytes]; it reads bytes all the same.
        stream = LimitedStream(cast(IO[bytes], self.rfile), length)
        environ["wsgi.input"] = stream
        environ["wsgi.input_terminated"] = True
        return stream

    def _answer_internal_error(self, response: _ResponseWriter) -> None:
        body = b"Internal Server Error"
        response.start(
            "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        with contextlib.suppress(OSError):  # the client may be gone too
            response.write(body)
            response.finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass  # timed-out idle connections and bad request lines: the client sees the answer

    def connection_dropped(self, error: BaseException, environ: object = None) -> None:
        pass


class _ResponseWriter:
    """The WSGI `start_response` and `write` of one response, framed for a persistent connection."""

    def __init__(self, handler: KeepAliveRequestHandler) -> None:
        self.handler = handler
        self.status_line: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.sent = False
        self.chunked = False

    def start(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status_line, self.headers = status, list(headers)
        return self.write

    def write(self, data: bytes) -> None:
        if not self.sent:
            data = self._head() + self._framed(data)
            self.sent = True
        else:
            data = self._framed(data)
        if data:
            self.handler.wfile.write(data)

    def finish(self) -> None:
        if not self.sent:
            self.write(b"")
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()

    def _framed(self, data: bytes) -> bytes:
        if not self.chunked or not data:
            return data
        return b"%x\r\n%s\r\n" % (len(data), data)

    def _head(self) -> bytes:
        handler = self.handler
        assert self.status_line is not None, "write() before start_response"
        code = int(self.status_line.split(None, 1)[0])
        names = {name.lower() for name, _ in self.headers}
        has_body = not (handler.command == "HEAD" or code < 200 or code in NO_BODY_STATUSES)
        lines = [f"{handler.protocol_version} {self.status_line}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if "server" not in names:
            lines.append(f"Server: {handler.version_string()}")
        if "date" not in names:
            lines.append(f"Date: {handler.date_time_string()}")
        if has_body and "content-length" not in names:
            if handler.request_version >= "HTTP/1.1":
                self.chunked = True
                lines.append("Transfer-Encoding: chunked")
            else:
                handler.close_connection = True  # an HTTP/1.0 body without a length ends with the connection
        if handler.close_connection:
            lines.append("Connection: close")
        elif handler.request_version < "HTTP/1.1":
            lines.append("Connection: keep-alive")
        handler.log_request(code)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class KeepAliveServer(ThreadedWSGIServer):
    """A threaded WSGI server whose accepted sockets are wrapped in TLS and shaken hands on their own thread."""

    def __init__(self, host: str, port: int, app: Any, context: ssl.SSLContext) -> None:
        super().__init__(host, port, app, handler=KeepAliveRequestHandler)
        self.ssl_context = context  # the listening socket stays plain; make_environ reads the scheme from this
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        assert self.ssl_context is not None
        return self.ssl_context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """End every open connection, so that idle keep-alive clients and their threads let go."""
        with self._connections_lock:
            connections: Iterable[socket.socket] = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class HttpsServer:
    """Serves a WSGI app over HTTPS on a background thread."""

    def __init__(self, app: WSGIApplication, host: str, port: int, run_dir: Path) -> None:
        authority = trustme.CA(organization_name="orgfeed emulator CA")
        certificate = authority.issue_cert(host, "localhost", "127.0.0.1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        self.ca_bundle = run_dir / "emulator-ca.pem"
        self.authority = authority  # also certifies the Pub/Sub gRPC server
        authority.cert_pem.write_to_path(str(self.ca_bundle))
        try:
            self._server = KeepAliveServer(host, port, app, context)
        except SystemExit:  # Werkzeug exits the process when the port is taken; callers decide
            raise OSError(errno.EADDRINUSE, "address already in use") from None
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="orgfeed-emulator", kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
