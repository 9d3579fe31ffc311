"""The `orgfeed` command line: every command is here, each parsing its options and calling one function.

Errors a user can fix end the command with one line each on stderr: exit status 2 for
configuration and connection problems, 1 for everything else that failed.
"""

from __future__ import annotations

import os

import click

from app.config import ConfigError, load_database_settings, load_settings
from app.warehouse import DatabaseUnreachable, WarehouseError


class _Commands(click.Group):
    """A click group that turns orgfeed's own errors into clear lines and exit statuses."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            for problem in error.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(2)
        except DatabaseUnreachable as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(2)
        except WarehouseError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="orgfeed")
def cli() -> None:
    """Mirror Salesforce orgs into PostgreSQL, union them in views, serve the views over OData v4."""


@cli.group(cls=_Commands)
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


@cli.group(cls=_Commands)
def config() -> None:
    """orgfeed.toml ($ORGFEED_CONFIG, else ./orgfeed.toml) and the environment."""


@config.command("check")
@click.option("--no-secrets", is_flag=True, help="Do not require the orgs' credential variables to be set.")
def config_check(no_secrets: bool) -> None:
    """Validate orgfeed.toml and the environment; list every problem, or summarise what is configured."""
    from app.configsummary import describe_settings

    settings = load_settings(resolve_secrets=not no_secrets)
    click.echo(describe_settings(settings))


def main() -> None:
    """The console script's entry point."""
    cli(prog_name="orgfeed")
