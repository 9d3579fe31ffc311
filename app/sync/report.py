"""The records of a sync run: what to sync, the progress events it emits, and what it did per object.

Pure data shared by `app.sync` (which fills them) and the console, dashboard and demo (which show them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SyncOptions:
    orgs: tuple[str, ...] = ()  # empty: every org orgfeed loads
    objects: tuple[str, ...] = ()  # empty: every mapped object
    full: bool = False
    since: datetime | None = None  # a full load takes only rows modified after this
    reconcile: bool = False


@dataclass(frozen=True)
class SyncEvent:
    """Progress for the console: kind is "start", "rows", "finish" or "log"."""

    kind: str
    org: str
    sobject: str | None = None
    rows: int = 0
    total: int | None = None
    status: str | None = None
    message: str | None = None


@dataclass
class ObjectReport:
    org: str
    sobject: str
    status: str = "running"  # succeeded | failed | skipped | throttled | interrupted | locked (by another sync)
    mode: str = ""  # full | incremental
    upserted: int = 0
    deleted: int = 0
    errored: int = 0
    api_calls: int = 0
    seconds: float = 0.0
    message: str = ""


@dataclass
class SyncReport:
    run_id: int
    objects: list[ObjectReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(report.status in ("succeeded", "skipped") for report in self.objects)

    @property
    def exit_status(self) -> int:
        """0 when every object synced (or its org is suspended), EXIT_LOCKED when the only gaps are objects
        another sync held, else 1."""
        if self.ok:
            return 0
        return EXIT_LOCKED if all(report.status in ("succeeded", "skipped", "locked") for report in self.objects) else 1


# An object another sync holds was not synced by this run: not a success, but not a failure either
# (the holder syncs it). EX_TEMPFAIL from sysexits.h: "temporary failure, try again later".
EXIT_LOCKED = 75


EventSink = Callable[[SyncEvent], None]


def run_status(report_status: str) -> str:
    """A report status in the sync_run_objects vocabulary (running, succeeded, failed, interrupted)."""
    return {"throttled": "failed", "skipped": "succeeded"}.get(report_status, report_status)


def mapping_status(report_status: str) -> str:
    return {
        "succeeded": "synced",
        "failed": "failed",
        "throttled": "throttled",
        "interrupted": "interrupted",
        "skipped": "skipped",
    }.get(report_status, report_status)
