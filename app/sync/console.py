"""What sync and status print: progress bars and tables on a terminal, one JSON line per event otherwise."""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.sync.report import EXIT_LOCKED, SyncEvent, SyncReport

if TYPE_CHECKING:
    from types import FrameType

    from sqlalchemy.engine import Engine

    from app.config import Settings
    from app.sync.report import SyncOptions
    from app.warehouse.status import LogLine, ObjectStatus

STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "throttled": "yellow",
    "interrupted": "yellow",
    "locked": "yellow",
    "skipped": "dim",
}


class JsonLines:
    """Writes each event as one JSON object per line (for logs, CI and scripts)."""

    def __init__(self, stream: TextIO = sys.stdout):
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: SyncEvent) -> None:
        record = {
            "event": event.kind,
            "org": event.org,
            "object": event.sobject,
            "rows": event.rows,
            "total": event.total,
            "status": event.status,
            "message": event.message,
            "time": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        line = orjson.dumps({key: value for key, value in record.items() if value is not None}).decode()
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class ProgressBars:
    """One rich progress bar per (org, object), plus sync-log warnings and failures printed above them."""

    def __init__(self, console: Console):
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[tuple[str, str], TaskID] = {}
        self._lock = threading.Lock()

    def __call__(self, event: SyncEvent) -> None:
        with self._lock:
            if event.kind == "log":
                if event.status in ("Failed", "Warning", "Throttled"):
                    where = f"{event.org}/{event.sobject}" if event.sobject else event.org
                    self.console.print(
                        f"[{'red' if event.status == 'Failed' else 'yellow'}]{event.status}[/] {where}: {event.message}"
                    )
                return
            key = (event.org, event.sobject or "")
            if key not in self.tasks:
                self.tasks[key] = self.progress.add_task(f"{event.org} {event.sobject}", total=None, status="")
            task = self.tasks[key]
            if event.kind == "rows":
                self.progress.update(task, completed=event.rows, total=event.total)
            elif event.kind == "finish":
                style = STATUS_STYLE.get(event.status or "", "")
                done = self.progress.tasks[task].total or event.rows or 1
                self.progress.update(
                    task,
                    completed=done if event.status == "succeeded" else None,
                    total=done,
                    status=f"[{style}]{event.status}[/]",
                )

    def __enter__(self) -> ProgressBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def summary_table(report: SyncReport) -> Table:
    """The end-of-run table: one row per (org, object)."""
    table = Table(title=f"sync run {report.run_id}")
    for heading in (
        "Org",
        "Object",
        "Mode",
        "Status",
        "Upserted",
        "Deleted",
        "Errored",
        "API calls",
        "Seconds",
        "Message",
    ):
        table.add_column(
            heading,
            justify="right" if heading in ("Upserted", "Deleted", "Errored", "API calls", "Seconds") else "left",
        )
    for item in report.objects:
        style = STATUS_STYLE.get(item.status, "")
        table.add_row(
            item.org,
            item.sobject,
            item.mode,
            f"[{style}]{item.status}[/]",
            str(item.upserted),
            str(item.deleted),
            str(item.errored),
            str(item.api_calls),
            f"{item.seconds:.1f}",
            item.message[:120],
        )
    return table


def summary_record(report: SyncReport) -> dict:
    """The end-of-run summary as one JSON-able record."""
    return {
        "event": "summary",
        "run_id": report.run_id,
        "ok": report.ok,
        "objects": [
            {
                "org": item.org,
                "object": item.sobject,
                "mode": item.mode,
                "status": item.status,
                "upserted": item.upserted,
                "deleted": item.deleted,
                "errored": item.errored,
                "api_calls": item.api_calls,
                "seconds": round(item.seconds, 3),
                "message": item.message,
            }
            for item in report.objects
        ],
    }


def run_sync_in_console(
    settings: Settings, engine: Engine, options: SyncOptions, *, watch: bool, json_lines: bool
) -> int:
    """Runs `orgfeed sync` with progress output and SIGTERM/SIGINT handling; the exit status (SyncReport.exit_status).

    With `watch`, the worst exit status of all its rounds.

    The first SIGTERM or Ctrl-C asks the run to stop after the current transaction (well within
    25 s); a second one exits at once.
    """
    import signal

    from app.sync.run import run_sync, watch_sync

    stop = threading.Event()
    console = Console(stderr=False)
    interactive = console.is_terminal and not json_lines
    outcome = {"exit_status": 0}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        message = "stopping after the current transaction (signal again to exit at once)"
        if interactive:
            console.print(f"[yellow]{message}[/]")
        else:
            JsonLines()(SyncEvent("log", "-", status="Stopping", message=message))

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    sink = ProgressBars(console) if interactive else JsonLines()

    def show(report: SyncReport) -> None:
        outcome["exit_status"] = max(outcome["exit_status"], report.exit_status, key=_severity)
        if interactive:
            console.print(summary_table(report))
        else:
            sys.stdout.write(orjson.dumps(summary_record(report)).decode() + "\n")
            sys.stdout.flush()

    try:
        with sink:
            if watch:
                watch_sync(settings, engine, options, on_event=sink, on_report=show, stop=stop)
            else:
                report = run_sync(settings, engine, options, on_event=sink, stop=stop)
        if not watch:
            show(report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return outcome["exit_status"]


def _severity(exit_status: int) -> int:
    """Orders exit statuses: success, then an object held by another sync (EXIT_LOCKED), then a failure."""
    return {0: 0, EXIT_LOCKED: 1}.get(exit_status, 2)


def print_status(objects: list[ObjectStatus], log: list[LogLine], stale_views: list[str], *, as_json: bool) -> None:
    """Prints `orgfeed status`: a table per object, stale views and the latest log entries, or one JSON document."""
    from app.warehouse.status import status_record

    if as_json:
        record = {**status_record(objects, log), "stale_views": [name.removesuffix(".sql") for name in stale_views]}
        sys.stdout.write(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # piped into a file or another program: don't wrap at 80 columns
    table = Table(title="orgfeed status")
    for heading in (
        "Org",
        "Object",
        "Status",
        "Mapped Fields",
        "Salesforce Rows",
        "Database Rows",
        "Errored Rows",
        "Last Sync",
        "Mode",
        "Last Change",
        "Lag",
    ):
        table.add_column(heading, justify="right" if "Rows" in heading or "Fields" in heading else "left")
    with_policies = any(item.field_policy for item in objects)
    if with_policies:
        table.add_column("Field Policy")
    blank = "-"
    for item in objects:
        cells = [
            item.org,
            item.sobject,
            item.status,
            str(item.mapped_fields),
            blank if item.salesforce_rows is None else str(item.salesforce_rows),
            blank if item.database_rows is None else str(item.database_rows),
            blank if not item.errored_rows else str(item.errored_rows),
            item.last_sync_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if item.last_sync_at else blank,
            item.mode,
            item.last_change_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if item.last_change_at else blank,
            blank if item.lag_seconds is None else f"{item.lag_seconds:.1f} s",
        ]
        if with_policies:
            due = " [yellow](full load due)[/]" if item.full_load_due else ""
            cells.append((item.field_policy or blank) + due)
        table.add_row(*cells)
    console.print(table)
    if stale_views:
        names = ", ".join(name.removesuffix(".sql") for name in stale_views)
        console.print(f"[yellow]stale views[/]: {names} — run `orgfeed views generate` and `orgfeed views apply`")
    recent = Table(title="recent sync log")
    for heading in ("Time", "Org", "Object", "Record", "Action", "Status", "Code", "Message"):
        recent.add_column(heading)
    for line in log:
        recent.add_row(
            line.logged_at.astimezone().strftime("%H:%M:%S"),
            line.org,
            line.sobject or "",
            line.record_id or "",
            line.action,
            line.status,
            line.error_code or "",
            (line.message or "")[:100],
        )
    console.print(recent)
