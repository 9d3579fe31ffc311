"""Generating sql/views/*.sql from the specs and the catalog, and telling which committed files are stale."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from app.config import Settings
from app.views.catalog import read_catalog
from app.views.render import render_view
from app.views.resolve import resolve_view

SUFFIX = ".sql"


def views_directory(settings: Settings) -> Path:
    """sql/views/ next to orgfeed.toml: the generated files live with the config that defines them."""
    return settings.config_path.parent / "sql" / "views"


def render_views(conn: Connection, settings: Settings) -> dict[str, str]:
    """File name -> SQL text for every [[views]] entry, from the current catalog."""
    catalog = read_catalog(conn, [org.name for org in settings.orgs])
    return {f"{view.name}{SUFFIX}": render_view(resolve_view(view, settings.orgs, catalog)) for view in settings.views}


def stale_files(directory: Path, rendered: dict[str, str]) -> list[str]:
    """Names of files that differ from `rendered`, are missing, or belong to no view any more (sorted)."""
    on_disk = {path.name: path.read_text() for path in directory.glob(f"*{SUFFIX}")} if directory.is_dir() else {}
    names = set(on_disk) | set(rendered)
    return sorted(name for name in names if on_disk.get(name) != rendered.get(name))


def write_views(directory: Path, rendered: dict[str, str]) -> list[str]:
    """Writes the files that changed and removes those of views no longer configured; returns the names touched."""
    changed = stale_files(directory, rendered)
    directory.mkdir(parents=True, exist_ok=True)
    for name in changed:
        path = directory / name
        if name in rendered:
            path.write_text(rendered[name])
        else:
            path.unlink()
    return changed
