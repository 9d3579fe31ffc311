"""`orgfeed serve`: the web app on Werkzeug's threaded development server (production runs gunicorn)."""

from __future__ import annotations

from werkzeug.serving import run_simple

from app.config import Settings
from app.odata.app import create_app


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Serves OData (and later the dashboard) on host:port until interrupted."""
    run_simple(host, port, create_app(settings), threaded=True, use_reloader=False)
