"""Views around sync runs: stale files, auto-apply when the loader changed a table, materialized refreshes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app.config import Settings
from app.views import ViewError
from app.views.apply import apply_views, refresh_materialized_views, views_not_in_database, views_without_tables
from app.views.generate import render_views, stale_files, views_directory, write_views


@dataclass(frozen=True)
class ViewsAfterSync:
    applied: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    refreshed: tuple[str, ...] = ()
    error: str | None = None


def find_stale_views(engine: Engine, settings: Settings) -> list[str]:
    """View files that no longer match what the specs and the current tables generate."""
    with engine.connect() as conn:
        try:
            rendered = render_views(conn, settings)
        except ViewError:
            return sorted(f"{view.name}.sql" for view in settings.views)
    return stale_files(views_directory(settings), rendered)


def update_views_after_sync(engine: Engine, settings: Settings) -> ViewsAfterSync:
    """With auto_apply_views: regenerate, write and apply the views whose SQL changed; then refresh materialized views.

    Without it, changed views are only reported as stale (`orgfeed status` lists them).
    """
    if not settings.views:
        return ViewsAfterSync()
    try:
        with engine.connect() as conn:
            rendered = render_views(conn, settings)
        stale = stale_files(views_directory(settings), rendered)
        applied: list[str] = []
        if stale and settings.sync.auto_apply_views:
            changed = {name: rendered[name] for name in stale if name in rendered}
            applied = apply_views(engine, changed, settings)
            # A read-only or ephemeral file system (a Heroku dyno) keeps no files: the database has the views.
            with contextlib.suppress(OSError):
                write_views(views_directory(settings), rendered)
            stale = []
        applied += _apply_missing_committed_views(engine, settings, applied)
        refreshed = refresh_materialized_views(engine, settings)
        return ViewsAfterSync(applied=tuple(applied), stale=tuple(stale), refreshed=tuple(refreshed))
    except ViewError as error:
        return ViewsAfterSync(error=str(error))


def _apply_missing_committed_views(engine: Engine, settings: Settings, already: list[str]) -> list[str]:
    """Applies committed view files whose views do not exist yet and whose tables now do (a first deploy's catch-up)."""
    directory = views_directory(settings)
    files = {path.name: path.read_text() for path in sorted(directory.glob("*.sql"))} if directory.is_dir() else {}
    names = [name.removesuffix(".sql") for name in files if name.removesuffix(".sql") not in already]
    absent = views_not_in_database(engine, names)
    blocked = views_without_tables(engine, {f"{name}.sql": files[f"{name}.sql"] for name in absent})
    ready = {f"{name}.sql": files[f"{name}.sql"] for name in absent if name not in blocked}
    return apply_views(engine, ready, settings) if ready else []
