"""The `orgfeed` command line: every command is here, each parsing its options and calling one function.

Errors a user can fix end the command with one line each on stderr: exit status 2 for
configuration and connection problems, 1 for everything else that failed (and 75 for a sync
whose only gaps are objects another sync held).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from app.config import ConfigError, load_database_settings, load_settings
from app.views import ViewError
from app.warehouse import DatabaseUnreachable, WarehouseError

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.engine import Engine

    from app.config import Settings


class _Commands(click.Group):
    """A click group that turns orgfeed's own errors into clear lines and exit statuses."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            for problem in error.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(2)
        except DatabaseUnreachable as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(2)
        except (WarehouseError, ViewError) as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="orgfeed")
def cli() -> None:
    """Mirror Salesforce orgs into PostgreSQL, union them in views, serve the views over OData v4."""


@cli.command(short_help="Run the demo: two emulated orgs, views, a feed, the dashboard.")
@click.option(
    "--port", default=8000, show_default=True, help="Port of the OData feed and the dashboard (0: any free port)."
)
@click.option("--rows", default=300, show_default=True, help="Records per object in each emulated org.")
def demo(port: int, rows: int) -> None:
    """Mirror two emulated orgs, apply the views and serve a feed and the dashboard, until Ctrl-C."""
    from app.demo import DemoError, DemoOptions, run_demo

    try:
        run_demo(load_database_settings(os.environ), DemoOptions(port=port, rows=rows), echo=click.echo)
    except DemoError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from error


@cli.group(cls=_Commands, short_help="Upgrade the database, print its URL, stop the embedded one.")
def db() -> None:
    """The database: DATABASE_URL, or an embedded PostgreSQL when it is unset."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate orgfeed's own schema (`orgfeed`) to the newest revision; safe to repeat."""
    from app.warehouse.database import check_database, resolve_database_url
    from app.warehouse.migrate import upgrade_database

    url = resolve_database_url(load_database_settings(os.environ))
    check_database(url)
    before, after = upgrade_database(url)
    if before == after:
        click.echo(f"orgfeed schema already at revision {after}")
    else:
        click.echo(f"orgfeed schema upgraded from {before or 'an empty database'} to revision {after}")


@db.command("url")
def db_url() -> None:
    """Print the database URL to use with psql (starts the embedded server when DATABASE_URL is unset)."""
    from app.warehouse.database import resolve_database_url

    click.echo(resolve_database_url(load_database_settings(os.environ)))


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (its data stays; the next command starts it again)."""
    from app.warehouse.embedded import stop_embedded_server

    database = load_database_settings(os.environ)
    if not database.is_embedded:
        raise ConfigError(["environment: DATABASE_URL is set: orgfeed runs no embedded server to stop"])
    if stop_embedded_server(database.data_dir):
        click.echo(f"stopped the embedded PostgreSQL in {database.data_dir}")
    else:
        click.echo(f"the embedded PostgreSQL in {database.data_dir} was not running")


@cli.group(cls=_Commands, short_help="Check orgfeed.toml and the environment.")
def config() -> None:
    """orgfeed.toml ($ORGFEED_CONFIG, else ./orgfeed.toml) and the environment."""


@config.command("check")
@click.option("--no-secrets", is_flag=True, help="Do not require the orgs' credential variables to be set.")
def config_check(no_secrets: bool) -> None:
    """Validate orgfeed.toml and the environment; list every problem, or summarise what is configured."""
    from app.config.summary import describe_settings

    settings = load_settings(resolve_secrets=not no_secrets)
    click.echo(describe_settings(settings))


def open_database(settings: Settings) -> Engine:
    """An engine on the configured database, after checking it is reachable and migrated."""
    from app.warehouse.database import check_database, create_database_engine, resolve_database_url
    from app.warehouse.migrate import require_current_schema

    url = resolve_database_url(settings.database)
    check_database(url)
    require_current_schema(url)
    return create_database_engine(url, pool_size=max(5, settings.sync.workers * 2 + 2))


def _unknown_names(kind: str, given: tuple[str, ...], known: list[str]) -> list[str]:
    """A problem line for each name in `given` that is not in `known`."""
    return [
        f"--{kind} {name}: not configured (known: {', '.join(known) or 'none'})" for name in given if name not in known
    ]


@cli.command(short_help="Mirror the orgs into their schemas.")
@click.option("--org", "orgs", multiple=True, help="Only this org (repeatable).")
@click.option("--object", "objects", multiple=True, help="Only this object (repeatable).")
@click.option("--full", is_flag=True, help="Reload every row into a shadow table and swap it in.")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="With a full load: only rows modified on or after this UTC date or time.",
)
@click.option("--reconcile", is_flag=True, help="Compare every Id now to catch hard deletes and purges.")
@click.option("--watch", is_flag=True, help="Keep syncing each mapping every poll_seconds until stopped.")
@click.option("--json", "json_lines", is_flag=True, help="One JSON line per event even on a terminal.")
def sync(
    orgs: tuple[str, ...],
    objects: tuple[str, ...],
    full: bool,
    since: datetime | None,
    reconcile: bool,
    watch: bool,
    json_lines: bool,
) -> None:
    """Mirror the configured orgs into their schemas.

    Exit status 1 when anything failed, 75 when the only objects not synced were held by another sync.
    """
    from datetime import UTC

    from app.sync.console import run_sync_in_console
    from app.sync.report import SyncOptions

    settings = load_settings()
    problems = _unknown_names("org", orgs, [org.name for org in settings.orgs if org.is_loaded])
    problems += _unknown_names("object", objects, [mapping.object for mapping in settings.mappings])
    if since is not None and not full:
        problems.append("--since limits a full load: add --full")
    if problems:
        raise ConfigError(problems)
    options = SyncOptions(
        orgs=orgs, objects=objects, full=full, reconcile=reconcile, since=since.replace(tzinfo=UTC) if since else None
    )
    exit_status = run_sync_in_console(settings, open_database(settings), options, watch=watch, json_lines=json_lines)
    if exit_status:
        raise SystemExit(exit_status)


@cli.command(short_help="Show sync status per org and object, and the sync log.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON document.")
@click.option("--log", "log_limit", default=20, show_default=True, help="How many sync-log entries to show.")
def status(as_json: bool, log_limit: int) -> None:
    """Per org and object: Status, Mapped Fields, Salesforce Rows, Database Rows, Errored Rows, last sync; the log."""
    from app.sync.console import print_status
    from app.views.lifecycle import find_stale_views
    from app.warehouse.status import read_status

    settings = load_settings(resolve_secrets=False)
    engine = open_database(settings)
    with engine.connect() as conn:
        objects, log = read_status(conn, settings, log_limit=log_limit)
    print_status(objects, log, find_stale_views(engine, settings), as_json=as_json)


@cli.command("access-log", short_help="Show who read or wrote what through the feeds.")
@click.option("--feed", help="Only this feed's entries.")
@click.option(
    "--since", help="Only entries since then: an ISO 8601 time (UTC unless it has an offset) or 30m, 24h, 7d."
)
@click.option("--limit", default=100, show_default=True, help="How many entries at most, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def access_log(feed: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """The access log: time, feed, user, client, method, path, entity set, rows, status and duration of each request."""
    from app.odata.commands import print_access_log

    settings = load_settings(resolve_secrets=False)
    print_access_log(open_database(settings), feed=feed, since=since, limit=limit, as_json=as_json)


@cli.group(cls=_Commands, short_help="Suspend or resume an org.")
def orgs() -> None:
    """Suspend or resume an org's syncing."""


@orgs.command("suspend")
@click.argument("name")
def orgs_suspend(name: str) -> None:
    """Skip org NAME in every sync until it is resumed."""
    _set_suspended(name, True)


@orgs.command("resume")
@click.argument("name")
def orgs_resume(name: str) -> None:
    """Sync org NAME again, continuing from its saved watermarks."""
    _set_suspended(name, False)


def _set_suspended(name: str, suspended: bool) -> None:
    from app.warehouse.state import record_org, set_suspended

    settings = load_settings(resolve_secrets=False)
    problems = _unknown_names("org", (name,), [org.name for org in settings.orgs if org.is_loaded])
    if problems:
        raise ConfigError(problems)
    engine = open_database(settings)
    with engine.begin() as conn:
        record_org(conn, name)
        set_suspended(conn, name, suspended)
    click.echo(f"org {name} {'suspended' if suspended else 'resumed'}")


@cli.group(cls=_Commands, short_help="Generate, apply and check the union views.")
def views() -> None:
    """The union views: generate sql/views/*.sql from the specs, apply them, check they are current."""


@views.command("generate")
def views_generate() -> None:
    """Write sql/views/<name>.sql for every [[views]] entry (reads the org tables' columns from the database)."""
    from app.views.generate import render_views, views_directory, write_views

    settings = load_settings(resolve_secrets=False)
    with open_database(settings).connect() as conn:
        rendered = render_views(conn, settings)
    directory = views_directory(settings)
    changed = write_views(directory, rendered)
    for name in changed:
        click.echo(f"{'wrote' if name in rendered else 'removed'} {directory / name}")
    if not changed:
        click.echo(f"{directory}: every view file is current")


@views.command("apply")
@click.option(
    "--if-ready",
    is_flag=True,
    help="Skip, with a notice, views whose org tables do not exist yet (for a release phase before the first sync).",
)
def views_apply(if_ready: bool) -> None:
    """Apply every sql/views/*.sql file in one transaction (all or nothing)."""
    from app.views.apply import apply_views, views_without_tables
    from app.views.generate import views_directory

    settings = load_settings(resolve_secrets=False)
    directory = views_directory(settings)
    files = {path.name: path.read_text() for path in sorted(directory.glob("*.sql"))}
    if not files and not if_ready:
        raise ConfigError([f"{directory}: no view files: run `orgfeed views generate` first"])
    engine = open_database(settings)
    if if_ready:
        for name, missing in views_without_tables(engine, files).items():
            click.echo(
                f"skipped view {name}: {missing} does not exist yet (the worker creates the view after its first sync)"
            )
            files.pop(f"{name}.sql")
    for name in apply_views(engine, files, settings):
        click.echo(f"applied view {name}")


@views.command("check")
def views_check() -> None:
    """Exit 1, listing them, when committed view files differ from what `views generate` would write."""
    from app.views.lifecycle import find_stale_views

    settings = load_settings(resolve_secrets=False)
    stale = find_stale_views(open_database(settings), settings)
    for name in stale:
        click.echo(f"stale: sql/views/{name}")
    if stale:
        raise SystemExit(1)
    click.echo("every view file is current")


@cli.group(cls=_Commands, short_help="Create and list OData feeds.")
def feeds() -> None:
    """OData feeds: service roots /odata/v4/<NAME>/ exposing chosen views, each with its own credentials."""


DEFAULT_BASE_URL = "http://localhost:8000"


@feeds.command("create")
@click.argument("name")
@click.option("--views", "views", help="Comma-separated views (default: the views of [[feeds]] NAME in orgfeed.toml).")
@click.option("--geos", help="Serve only these geos' rows, comma-separated (default: [[feeds]] NAME's geos, or all).")
@click.option("--hide", help="Comma-separated view.column entries not to serve (default: [[feeds]] NAME's hide).")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Where the web process is reachable.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--writable", is_flag=True, help="Accept OData creates, updates and deletes, written to the owning org.")
@click.option("--default-geo", help="The geo a create without a geo property goes to (writable feeds).")
def feeds_create(
    name: str,
    views: str | None,
    geos: str | None,
    hide: str | None,
    base_url: str,
    as_json: bool,
    writable: bool,
    default_geo: str | None,
) -> None:
    """Create feed NAME (or update its views, scope, writability and grants) with a read-only role and a credential."""
    from app.odata.commands import FeedOptions, run_feeds_create

    settings = load_settings(resolve_secrets=False)
    options = FeedOptions(views=views, geos=geos, hide=hide, writable=writable, default_geo=default_geo)
    run_feeds_create(settings, open_database(settings), name, options, base_url=base_url, as_json=as_json)


@feeds.command("list")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Where the web process is reachable.")
@click.option("--json", "as_json", is_flag=True, help="Print the feeds as one JSON document.")
def feeds_list(base_url: str, as_json: bool) -> None:
    """Every feed: views, protection (read role or read-only transactions), usable credentials, service URL."""
    from app.odata.commands import run_feeds_list

    settings = load_settings(resolve_secrets=False)
    run_feeds_list(open_database(settings), base_url=base_url, as_json=as_json)


@cli.group(cls=_Commands, short_help="Show, reset or revoke a feed's credentials.")
def credentials() -> None:
    """A feed's HTTP Basic credentials: show, reset (the old password works 10 more minutes), revoke."""


@credentials.command("show")
@click.argument("feed")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Where the web process is reachable.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print user, password (null: stored hashed) and service URL as JSON."
)
def credentials_show(feed: str, base_url: str, as_json: bool) -> None:
    """Show FEED's username and service URL (passwords are stored hashed: reset to get a new one)."""
    from app.odata.commands import run_credentials

    settings = load_settings(resolve_secrets=False)
    run_credentials(open_database(settings), "show", feed, base_url=base_url, as_json=as_json)


@credentials.command("reset")
@click.argument("feed")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True, help="Where the web process is reachable.")
@click.option("--json", "as_json", is_flag=True, help="Print user, password and service URL as JSON.")
def credentials_reset(feed: str, base_url: str, as_json: bool) -> None:
    """Give FEED a new password; the previous one keeps working for 10 minutes."""
    from app.odata.commands import run_credentials

    settings = load_settings(resolve_secrets=False)
    run_credentials(open_database(settings), "reset", feed, base_url=base_url, as_json=as_json)


@credentials.command("revoke")
@click.argument("feed")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def credentials_revoke(feed: str, as_json: bool) -> None:
    """End every credential of FEED now (then `credentials reset` issues a new one)."""
    from app.odata.commands import run_credentials

    settings = load_settings(resolve_secrets=False)
    run_credentials(open_database(settings), "revoke", feed, base_url=DEFAULT_BASE_URL, as_json=as_json)


@cli.command(short_help="Serve the feeds and the dashboard (development).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the OData feeds (development server; production runs gunicorn from the Procfile)."""
    from app.odata.serve import serve as serve_feeds
    from app.odata.wsgi import load_web_settings

    settings = load_web_settings()
    open_database(settings).dispose()
    serve_feeds(settings, host=host, port=port)


@cli.command(short_help="Run the Salesforce org emulator.")
@click.option("--port", default=8443, show_default=True, help="HTTPS port on 127.0.0.1 (0: any free port).")
@click.option("--rows", default=300, show_default=True, help="Records per demo object in each org.")
@click.option("--json", "json_output", is_flag=True, help="Print the URLs, credentials and CA bundle as one JSON line.")
@click.option(
    "--config-out",
    type=click.Path(dir_okay=False),
    help="Write an orgfeed.toml for the emulated orgs here, with its .env beside it.",
)
def emulator(port: int, rows: int, json_output: bool, config_out: str | None) -> None:
    """Run the Salesforce org emulator with the demo orgs AMER and EMEA until Ctrl-C."""
    import functools
    from pathlib import Path

    from app.demo import write_demo_config
    from app.emulator.errors import EmulatorError
    from app.emulator.serve import serve_emulator

    write_config = functools.partial(write_demo_config, Path(config_out)) if config_out else None
    try:
        serve_emulator(port=port, rows=rows, json_output=json_output, write_config=write_config)
    except EmulatorError as error:
        raise click.ClickException(str(error)) from None


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="orgfeed")
