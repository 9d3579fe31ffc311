"""What the `orgfeed feeds ...` and `orgfeed credentials ...` commands print; each calls one function of `feeds`.

Feeds in orgfeed.toml ([[feeds]]) are templates: `orgfeed feeds create NAME` without --views
takes the views from the [[feeds]] entry called NAME. The database is the source of truth.
A FeedError ends the command with its message and exit status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

import click
from sqlalchemy import Engine

from app.config import Settings
from app.odata import FeedError
from app.odata import feeds as feed_store
from app.views.scopes import scope_schema


def _exits_on_feed_error(function: Callable) -> Callable:
    """Runs a command's function, turning FeedError into a line and exit status 1, then closes its engine."""

    @wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except FeedError as error:
            click.echo(f"error: {error}", err=True)
            raise SystemExit(1) from None
        finally:
            for value in args:
                if isinstance(value, Engine):
                    value.dispose()

    return run


@dataclass(frozen=True)
class FeedOptions:
    """`feeds create`'s comma-separated options; None takes the value of [[feeds]] NAME in orgfeed.toml."""

    views: str | None = None
    geos: str | None = None
    hide: str | None = None
    writable: bool = False  # or [[feeds]] NAME's `writable`
    default_geo: str | None = None


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@_exits_on_feed_error
def run_feeds_create(
    settings: Settings, engine: Engine, name: str, options: FeedOptions, *, base_url: str, as_json: bool
) -> None:
    configured = next((feed for feed in settings.feeds if feed.name == name), None)
    if options.views is not None:
        view_names = _split(options.views)
    elif configured is not None:
        view_names = list(configured.views)
    else:
        raise FeedError(f"feed {name!r} is not in {settings.config_path} ([[feeds]]): name its views with --views A,B")
    geos = _split(options.geos) if options.geos is not None else (configured.geos if configured else None)
    hide = _split(options.hide) if options.hide is not None else list(configured.hide if configured else ())
    writable = options.writable or (configured is not None and configured.writable)
    default_geo = options.default_geo or (configured.default_geo if configured else None)
    known_geos = {org.geo for org in settings.orgs}
    if default_geo is not None and known_geos and default_geo not in known_geos:
        raise FeedError(f"--default-geo {default_geo!r} is not the geo of an org in {settings.config_path}")
    created = feed_store.create_feed(
        engine,
        name,
        view_names,
        base_url=base_url,
        geos=geos,
        hide=hide,
        writable=writable,
        default_geo=default_geo,
    )
    if as_json:
        credential = created.credential
        click.echo(
            json.dumps(
                {
                    "feed": created.name,
                    "views": list(created.views),
                    "missing_views": list(created.missing_views),
                    "role": created.role_name,
                    "role_problem": created.role_problem,
                    "geos": list(created.geos) if created.geos is not None else None,
                    "hide": list(created.hidden),
                    "writable": created.writable,
                    "default_geo": created.default_geo,
                    "user": credential.username if credential else None,
                    "password": credential.password if credential else None,
                    "url": feed_store.service_url(base_url, name),
                }
            )
        )
        return
    click.echo(f"feed {created.name}: views {', '.join(created.views)}")
    if created.missing_views:
        click.echo(f"  not in the database yet (served once they exist): {', '.join(created.missing_views)}")
    if created.geos is not None or created.hidden:
        rows_of = ", ".join(created.geos) if created.geos is not None else "every geo"
        hidden = ", ".join(created.hidden) or "none"
        schema = scope_schema(created.name)
        click.echo(f"  scoped: rows of {rows_of}; hidden columns: {hidden} (views in schema {schema})")
    if created.role_name:
        click.echo(f"  reads through database role {created.role_name} (SELECT on these views only)")
    else:
        click.echo(f"  warning: no read role: {created.role_problem}.")
        click.echo("  The feed reads in READ ONLY transactions with a statement timeout instead.")
    if created.writable:
        default = f"; creates without geo go to {created.default_geo}" if created.default_geo else ""
        click.echo(f"  writable: POST, PATCH, PUT and DELETE are written to the org that owns the row{default}")
    if created.credential:
        _echo_credential(created.credential)
    else:
        click.echo("  credentials unchanged (see `orgfeed credentials show|reset`)")


@_exits_on_feed_error
def run_feeds_list(engine: Engine, *, base_url: str, as_json: bool) -> None:
    infos = feed_store.list_feeds(engine, base_url=base_url)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "feed": info.name,
                        "views": list(info.views),
                        "role": info.role_name,
                        "protection": info.protection,
                        "active_credentials": info.active_credentials,
                        "writable": info.writable,
                        "url": info.service_url,
                    }
                    for info in infos
                ]
            )
        )
        return
    if not infos:
        click.echo("no feeds: create one with `orgfeed feeds create NAME --views A,B`")
    for info in infos:
        click.echo(
            f"{info.name}\t{info.service_url}\tviews: {', '.join(info.views)}\tprotection: {info.protection}"
            f"\tactive credentials: {info.active_credentials}" + ("\twritable" if info.writable else "")
        )


@_exits_on_feed_error
def run_credentials(engine: Engine, action: str, feed: str, *, base_url: str, as_json: bool) -> None:
    if action == "revoke":
        count = feed_store.revoke_credentials(engine, feed)
        if as_json:
            click.echo(json.dumps({"feed": feed, "revoked": count}))
        else:
            click.echo(
                f"feed {feed}: revoked {count} credential(s); `orgfeed credentials reset {feed}` issues a new one"
            )
        return
    if action == "reset":
        credential = feed_store.reset_credentials(engine, feed, base_url=base_url)
    else:
        credential = feed_store.show_credentials(engine, feed, base_url=base_url)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "feed": feed,
                    "user": credential.username,
                    "password": credential.password,
                    "url": credential.service_url,
                }
            )
        )
        return
    click.echo(f"feed {feed}:")
    _echo_credential(credential)
    if action == "reset":
        click.echo("  the previous password keeps working for 10 minutes")


def _echo_credential(credential: feed_store.Credential) -> None:
    click.echo(f"  service URL: {credential.service_url}")
    click.echo(f"  user:        {credential.username}")
    if credential.password:
        click.echo(f"  password:    {credential.password}   (shown once: only its hash is stored)")
    else:
        click.echo("  password:    (stored hashed; `orgfeed credentials reset` issues a new one)")


SINCE_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime) -> datetime:
    """`text` as a time: "30m", "24h" or "7d" before `now`, or ISO 8601 (UTC unless it has an offset).

    Raises FeedError saying what is accepted.
    """
    text = text.strip()
    amount, unit = text[:-1], text[-1:].lower()
    if unit in SINCE_UNITS and amount.isdigit():
        return now - timedelta(**{SINCE_UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FeedError(
            f"--since {text!r}: give an ISO 8601 time (2026-12-01 or 2026-12-01T09:30:00+01:00) or 30m, 24h, 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@_exits_on_feed_error
def print_access_log(engine: Engine, *, feed: str | None, since: str | None, limit: int, as_json: bool) -> None:
    """Prints `orgfeed access-log`: a table, or one JSON object per entry (newest first)."""
    from app.warehouse.audit import read_access_log

    moment = parse_since(since, datetime.now(UTC)) if since else None
    with engine.connect() as conn:
        entries = read_access_log(conn, feed=feed, since=moment, limit=limit)
    if as_json:
        for entry in entries:
            record = {**asdict(entry), "at": entry.at.isoformat()}
            click.echo(json.dumps(record))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=200)
    table = Table(title="orgfeed access log" + (f" of feed {feed}" if feed else ""))
    for heading in ("Time", "Feed", "User", "Client", "Method", "Path", "Status", "Rows", "ms"):
        table.add_column(heading, justify="right" if heading in ("Status", "Rows", "ms") else "left")
    for entry in entries:
        table.add_row(
            entry.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            entry.feed or "",
            entry.username or "",
            entry.client or "",
            entry.method,
            entry.path[:80],
            str(entry.status),
            "" if entry.rows is None else str(entry.rows),
            str(entry.duration_ms),
        )
    console.print(table)
