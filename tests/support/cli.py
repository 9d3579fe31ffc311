"""Running `orgfeed` commands in-process with click's runner."""

from __future__ import annotations

from click.testing import CliRunner, Result

from app.cli import cli


def run(args: list[str], **env: str) -> Result:
    """Runs `orgfeed args` in-process with exactly the orgfeed variables given (others cleared)."""
    cleared = dict.fromkeys(("DATABASE_URL", "ODATA_DATABASE_URL", "ORGFEED_CONFIG", "ORGFEED_DATA_DIR"))
    return CliRunner().invoke(cli, args, env={**cleared, **env}, catch_exceptions=False)
