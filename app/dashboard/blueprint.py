"""Routes of the dashboard: the page, its JSON status, and suspend/resume of an org."""

from __future__ import annotations

import hmac
from dataclasses import asdict
from datetime import datetime

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import Engine, select

from app.config import Settings
from app.warehouse import WarehouseError
from app.warehouse.audit import latest_access_per_feed
from app.warehouse.metadata import feeds, orgs
from app.warehouse.state import record_org, set_suspended
from app.warehouse.status import read_status, status_record

REALM = 'Basic realm="orgfeed dashboard"'
# Suspend/resume must come from the page's own script: a custom header cannot be sent by a
# cross-site form, so a page elsewhere cannot ride on the browser's stored Basic credentials.
ACTION_HEADER = "X-Orgfeed-Action"
ACCESS_PER_FEED = 5  # the latest access-log entries shown per feed


def create_dashboard(settings: Settings, engine: Engine) -> Blueprint:
    """The dashboard blueprint, mounted at /; every route needs the admin password."""
    dashboard = Blueprint("dashboard", __name__, template_folder="templates")
    password = settings.admin_password

    @dashboard.before_request
    def require_password() -> Response | None:
        credentials = request.authorization
        given = credentials.password if credentials and credentials.type == "basic" else None
        if not password or given is None or not hmac.compare_digest(given.encode(), password.encode()):
            message = (
                "set ORGFEED_ADMIN_PASSWORD to use the dashboard"
                if not password
                else "the dashboard needs its password"
            )
            return Response(message + "\n", 401, {"WWW-Authenticate": REALM, "Content-Type": "text/plain"})
        return None

    @dashboard.get("/")
    def page() -> str:
        return render_template("dashboard.html")

    @dashboard.get("/dashboard/status.json")
    def status() -> Response:
        return jsonify(read_dashboard(engine, settings, request.host_url))

    @dashboard.post("/dashboard/orgs/<name>/<action>")
    def change_org(name: str, action: str) -> tuple[Response, int]:
        if request.headers.get(ACTION_HEADER) != action:
            return jsonify(error=f"send the {ACTION_HEADER} header"), 400
        if action not in ("suspend", "resume"):
            return jsonify(error=f"unknown action {action!r}: suspend or resume"), 404
        if name not in {org.name for org in settings.orgs if org.is_loaded}:
            return jsonify(error=f"org {name!r} is not configured"), 404
        try:
            with engine.begin() as conn:
                record_org(conn, name)
                set_suspended(conn, name, action == "suspend")
        except WarehouseError as error:
            return jsonify(error=str(error)), 409
        return jsonify(org=name, suspended=action == "suspend"), 200

    return dashboard


def read_dashboard(engine: Engine, settings: Settings, host_url: str) -> dict:
    """Everything the page shows, as JSON-able data."""
    with engine.connect() as conn:
        objects, log = read_status(conn, settings, log_limit=25)
        suspended = {row.name: row.suspended for row in conn.execute(select(orgs.c.name, orgs.c.suspended))}
        feed_rows = conn.execute(select(feeds.c.name, feeds.c.views).order_by(feeds.c.name)).all()
        access = latest_access_per_feed(conn, per_feed=ACCESS_PER_FEED)
    record = status_record(objects, log)
    record["orgs"] = [
        {"name": org.name, "geo": org.geo, "suspended": bool(suspended.get(org.name, False))}
        for org in settings.orgs
        if org.is_loaded
    ]
    base = host_url.rstrip("/")
    record["feeds"] = [
        {"name": name, "views": list(views), "service_url": f"{base}/odata/v4/{name}/"} for name, views in feed_rows
    ]
    record["access"] = {
        feed: [{**asdict(entry), "at": entry.at.isoformat()} for entry in entries] for feed, entries in access.items()
    }
    record["generated_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    return record
