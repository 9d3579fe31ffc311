"""The web process's entry point for gunicorn: `gunicorn 'app.odata.wsgi:create()'` (see the Procfile).

Settings come from the environment and orgfeed.toml through `app.config`; the app trusts one
proxy in front of it (Heroku's router) for the client address and scheme.
"""

from __future__ import annotations

import logging

from flask import Flask

from app.config import ConfigError, Settings, load_settings
from app.odata.app import create_app

log = logging.getLogger(__name__)


def load_web_settings() -> Settings:
    """Settings with the orgs' secrets when the environment has them (writable feeds log in to the orgs).

    Without them the feeds still serve reads, and writes answer 503 naming the org.
    """
    try:
        return load_settings()
    except ConfigError as error:
        settings = load_settings(resolve_secrets=False)
        log.warning("serving without Salesforce credentials, so writable feeds cannot write: %s", error)
        return settings


def create(threads: int = 8) -> Flask:
    """The app with settings from the environment (Salesforce secrets are needed only by writable feeds).

    `threads` is the Procfile's `--threads` (a test checks they agree): one pooled connection per thread."""
    return create_app(load_web_settings(), trusted_proxies=1, threads=threads)
