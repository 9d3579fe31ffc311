"""`orgfeed demo`: two emulated orgs mirrored, the views applied, a feed and the dashboard served, in one command.

Everything lives under the user's data directory (next to the embedded database), so a second
run reuses what the first built: an incremental sync, the same feed with a fresh password.
Ctrl-C stops the web server, the emulator and, when the demo used it, the embedded database.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import Engine
from werkzeug.serving import make_server

from app.config import DatabaseSettings, Settings, load_settings
from app.emulator.config_out import write_org_files
from app.emulator.demo.orgs import demo_orgs
from app.emulator.emulator import Emulator
from app.odata.app import create_app
from app.odata.feeds import create_feed, reset_credentials
from app.sync.report import SyncEvent, SyncOptions
from app.sync.run import run_sync
from app.views.apply import apply_views
from app.views.generate import render_views, views_directory, write_views
from app.warehouse.database import check_database, create_database_engine, resolve_database_url
from app.warehouse.embedded import stop_embedded_server
from app.warehouse.migrate import upgrade_database

SEED = 7
FEED = "global"
SAMPLE_VIEW = "global_contact"
SYNC_SECONDS = 15

# What the demo mirrors, the views over it and the feed serving them: the one source for `orgfeed demo`
# and `orgfeed emulator --config-out` (the repository's example orgfeed.toml declares the same; a test checks).
DEMO_TABLES: dict[str, list[dict[str, Any]]] = {
    "mappings": [
        {"object": sobject, "fields": "*"} for sobject in ("Employee", "EmployeeCrisisAssessment", "Account", "Contact")
    ],
    "views": [
        {
            "name": "global_assessment",
            "object": "EmployeeCrisisAssessment",
            "joins": [{"lookup": "EmployeeId", "object": "Employee"}],
            "columns": [
                "Assessment",
                "AssessmentDate",
                "Employee.LastName as lastname",
                "Employee.FirstName as firstname",
            ],
        },
        {
            "name": "global_contact",
            "object": "Contact",
            "joins": [{"lookup": "AccountId", "object": "Account"}],
            "columns": [
                "Account.Industry as industry",
                "Account.Name as name",
                "Phone",
                "Fax",
                "LastName",
                "FirstName",
                "Email",
                "MobilePhone",
            ],
            "indexed": ["lastname", "email"],
            "searchable": ["lastname", "firstname", "email", "phone"],
        },
    ],
    "feeds": [{"name": FEED, "views": ["global_assessment", "global_contact"]}],
}


@dataclass(frozen=True)
class DemoOptions:
    port: int = 8000
    rows: int = 300
    host: str = "127.0.0.1"


def demo_directory(database: DatabaseSettings) -> Path:
    """Where the demo keeps its config, secrets and view files: beside the embedded database's data."""
    return database.data_dir.parent / "demo"


def run_demo(
    database: DatabaseSettings,
    options: DemoOptions,
    *,
    echo: Callable[[str], None],
    stop: threading.Event | None = None,
) -> None:
    """Builds and serves the demo, then blocks until `stop` is set (SIGINT or SIGTERM set it)."""
    stop = stop or _stop_on_signals()
    started = time.monotonic()
    folder = demo_directory(database)
    folder.mkdir(parents=True, exist_ok=True)
    url = resolve_database_url(database)
    emulator = engine = server = None
    try:
        check_database(url)
        upgrade_database(url)
        emulator = Emulator(demo_orgs(rows=options.rows, seed=SEED), run_dir=folder / "emulator").start()
        engine = create_database_engine(url, application_name="orgfeed-demo", pool_size=10)
        config_path, _ = write_demo_config(folder / "orgfeed.toml", emulator)
        admin_password = _read_or_create_secret(folder / "admin-password")
        environ = {**os.environ, "DATABASE_URL": url, "ORGFEED_ADMIN_PASSWORD": admin_password}
        settings = load_settings(environ=environ, path=config_path)
        previous = _read_state(folder)
        echo(f"syncing the emulated orgs amer and emea ({options.rows} records per object)…")
        report = run_sync(
            settings, engine, SyncOptions(full=previous.get("rows") != options.rows), on_event=_progress(echo)
        )
        if not report.ok:
            failed = [
                f"{item.org}/{item.sobject}: {item.message}"
                for item in report.objects
                if item.status not in ("succeeded", "skipped")
            ]
            raise DemoError("the demo sync failed: " + "; ".join(failed))
        with engine.connect() as conn:
            rendered = render_views(conn, settings)
        write_views(views_directory(settings), rendered)
        apply_views(engine, rendered, settings)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log in the demo's terminal
        server = make_server(options.host, options.port, create_app(settings, engine=engine), threaded=True)
        base_url = f"http://{options.host}:{server.server_port}"
        created = create_feed(engine, FEED, [view.name for view in settings.views], base_url=base_url)
        credential = created.credential or reset_credentials(engine, FEED, base_url=base_url)
        _write_state(folder, {"rows": options.rows})
        threading.Thread(target=server.serve_forever, name="demo-web", daemon=True).start()
        syncing = threading.Thread(target=_keep_syncing, args=(settings, engine, stop), name="demo-sync", daemon=True)
        syncing.start()
        echo(
            _banner(
                base_url,
                credential.username,
                credential.password or "",
                admin_password,
                url,
                database,
                time.monotonic() - started,
                emulator,
            )
        )
        stop.wait()
        echo("stopping…")
        syncing.join(timeout=30)
    finally:
        if server is not None:
            server.shutdown()
        if emulator is not None:
            emulator.stop()
        if engine is not None:
            engine.dispose()
        if database.is_embedded:
            stop_embedded_server(database.data_dir)
    echo("stopped the web server, the emulator" + (" and the embedded database" if database.is_embedded else ""))


def write_demo_config(path: Path, emulator: Emulator) -> tuple[Path, Path]:
    """Writes orgfeed.toml at `path` for the running emulator's orgs and the demo tables, and its .env; returns both.

    The CA bundle and the JWT keys are written beside it; the CA changes with every emulator start,
    so write the files again after a restart.
    """
    folder = path.resolve().parent
    keys = {name: org.app.private_key_pem for name, org in emulator.orgs.items()}
    org_files = write_org_files(folder, emulator.describe_orgs(), emulator.ca_bundle, keys)
    header = (
        "# orgfeed.toml for the orgfeed emulator's demo orgs, written by orgfeed.\n"
        "# Secrets are in the .env file beside this one. The CA bundle is the emulator's own CA:\n"
        "# it changes each time the emulator starts, so write this file again after a restart.\n\n"
    )
    path.write_text(header + tomli_w.dumps({"orgs": list(org_files.tables), **DEMO_TABLES}, multiline_strings=False))
    env_path = folder / ".env"
    env_path.write_text(
        "# Secrets for the orgfeed emulator's demo orgs, written by orgfeed.\n"
        + "".join(f"{key}={value}\n" for key, value in org_files.secrets.items())
    )
    env_path.chmod(0o600)
    return path, env_path


class DemoError(Exception):
    """The demo could not be built; the message says which step failed."""


def _keep_syncing(settings: Settings, engine: Engine, stop: threading.Event) -> None:
    """Syncs again every SYNC_SECONDS until `stop`, so changes made in the emulator reach the views."""
    while not stop.wait(SYNC_SECONDS):
        run_sync(settings, engine, SyncOptions(), stop=stop)


def _banner(
    base_url: str,
    user: str,
    password: str,
    admin_password: str,
    url: str,
    database: DatabaseSettings,
    seconds: float,
    emulator: Emulator,
) -> str:
    service = f"{base_url}/odata/v4/{FEED}/"
    lines = [
        f"orgfeed demo is ready ({seconds:.0f} s): "
        "two emulated orgs mirrored into PostgreSQL, union views, an OData feed.",
        "",
        f"  OData service root  {service}",
        f"  feed user           {user}",
        f"  feed password       {password}",
        f"  dashboard           {base_url}/   (any user name, password {admin_password})",
        f"  try it              curl -u '{user}:{password}' '{service}{SAMPLE_VIEW}?$top=3&$count=true'",
        f"  psql                psql '{url}'" + ("" if database.is_embedded else "   (your DATABASE_URL)"),
        f"  emulated orgs       {emulator.base_url}/__emulator/   (control API; CA {emulator.ca_bundle})",
        "",
        f"The demo syncs again every {SYNC_SECONDS} s: change a record through the control API and watch it arrive.",
        "Press Ctrl-C to stop (the web server, the emulator"
        + (" and the embedded database)." if database.is_embedded else ")."),
    ]
    return "\n".join(lines)


def _progress(echo: Callable[[str], None]) -> Callable[[SyncEvent], None]:
    lock = threading.Lock()

    def show(event: SyncEvent) -> None:
        if event.kind == "finish":
            with lock:
                echo(f"  {event.org} {event.sobject}: {event.status}, {event.rows} rows")

    return show


def _read_or_create_secret(path: Path) -> str:
    """The secret stored in `path`, created (readable by the owner only) on first use."""
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(18)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _read_state(folder: Path) -> dict:
    try:
        return json.loads((folder / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write_state(folder: Path, state: dict) -> None:
    (folder / "state.json").write_text(json.dumps(state) + "\n")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop
