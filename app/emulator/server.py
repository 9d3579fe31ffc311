"""The HTTPS server: a threaded Werkzeug server on a certificate issued by a fresh trustme CA."""

from __future__ import annotations

import errno
import ssl
import threading
from pathlib import Path

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without a log line per request (tests and benchmarks make thousands)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def connection_dropped(self, error: BaseException, environ: object = None) -> None:
        pass


class HttpsServer:
    """Serves a WSGI app over HTTPS on a background thread."""

    def __init__(self, app, host: str, port: int, run_dir: Path) -> None:
        authority = trustme.CA(organization_name="orgfeed emulator CA")
        certificate = authority.issue_cert(host, "localhost", "127.0.0.1")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        self.ca_bundle = run_dir / "emulator-ca.pem"
        self.authority = authority  # also certifies the Pub/Sub gRPC server
        authority.cert_pem.write_to_path(str(self.ca_bundle))
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, app, threaded=True, request_handler=QuietRequestHandler, ssl_context=context
            )
        except SystemExit:  # Werkzeug exits the process when the port is taken; callers decide
            raise OSError(errno.EADDRINUSE, "address already in use") from None
        self._server.daemon_threads = True
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
        self._server.server_close()
        self._thread.join(timeout=5)
