"""The web process's entry point for gunicorn: `gunicorn 'app.odata.wsgi:create()'` (see the Procfile).

Settings come from the environment and orgfeed.toml through `app.config`; the app trusts one
proxy in front of it (Heroku's router) for the client address and scheme.
"""

from __future__ import annotations

from flask import Flask

from app.config import load_settings
from app.odata.app import create_app


def create(threads: int = 8) -> Flask:
    """The app with settings from the environment (no Salesforce secrets needed to serve the feed).

    `threads` is the Procfile's `--threads` (a test checks they agree): one pooled connection per thread."""
    return create_app(load_settings(resolve_secrets=False), trusted_proxies=1, threads=threads)
