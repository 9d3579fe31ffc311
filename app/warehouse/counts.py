"""Live-row counts kept by triggers (migration 0007): which tables have them, and starting one for a table.

`orgfeed.track_live_rows` gives a table four statement-level triggers that add each statement's change in
live rows (`isdeleted is not true`) to `orgfeed.live_rows` in the writer's transaction, and counts the rows
it holds now. The generated view files track every table a view reads; a shadow swap tracks the new table
when the old one was tracked, in the swap's transaction, so a reload never leaves a count behind.
"""

from __future__ import annotations

from sqlalchemy import Connection, text


def is_tracked(conn: Connection, relation: str) -> bool:
    """True when the table `relation` (quoted, qualified) has its live rows counted."""
    return bool(
        conn.execute(
            text("select exists (select from orgfeed.live_row_tables where relid = to_regclass(:relation))"),
            {"relation": relation},
        ).scalar_one()
    )


def track_live_rows(conn: Connection, relation: str) -> bool:
    """Counts the live rows of `relation` from now on (idempotent); False when the database user may not."""
    return bool(
        conn.execute(
            text("select orgfeed.track_live_rows(cast(:relation as regclass))"), {"relation": relation}
        ).scalar()
    )


def refresh_view_counts(conn: Connection, relations: list[str]) -> None:
    """Re-registers the views `relations` (quoted, qualified) after they were dropped and created again with the
    same definition (a swap), so the feed's check of them stays the cheap one."""
    for relation in relations:
        conn.execute(text("select orgfeed.refresh_view_count(cast(:relation as regclass))"), {"relation": relation})
