"""Fault injection: the next N requests whose path matches a pattern fail, stall, drop, or end a Bulk job.

Kinds: `status` (an HTTP status with a Salesforce error code and message), `delay` (seconds before
the request is handled normally), `drop` (the connection is closed with no response), `malformed`
(200 with a JSON body cut off mid-value, as a proxy truncating a response would leave it), and
`bulk_failed` / `bulk_aborted` (a query job created by a matching request ends Failed / Aborted).
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import asdict, dataclass

from app.emulator.errors import ControlError

REQUEST_KINDS = ("status", "delay", "drop", "malformed")
BULK_KINDS = ("bulk_failed", "bulk_aborted")


@dataclass(frozen=True)
class Fault:
    """A fault for the next `count` requests whose path matches `path` (fnmatch; `*` spans `/`)."""

    kind: str
    path: str = "*"
    count: int = 1
    method: str | None = None
    status: int = 503
    error_code: str = "SERVER_UNAVAILABLE"
    message: str = "The server is temporarily unable to service your request."
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in REQUEST_KINDS + BULK_KINDS:
            raise ControlError(f"fault kind {self.kind!r} is not one of {', '.join(REQUEST_KINDS + BULK_KINDS)}")
        if self.count < 1:
            raise ControlError("a fault's count must be at least 1")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method.upper()) and fnmatch.fnmatchcase(path, self.path)


@dataclass
class _Pending:
    fault: Fault
    remaining: int  # matching requests the fault still applies to


class FaultBook:
    """Pending faults, each with how many matching requests it still applies to."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._pending.append(_Pending(fault, fault.count))

    def take(self, method: str, path: str, kinds: tuple[str, ...]) -> Fault | None:
        """Return and use up one application of the first pending fault of `kinds` matching the request."""
        with self._lock:
            for entry in self._pending:
                fault = entry.fault
                if fault.kind in kinds and fault.matches(method, path):
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._pending.remove(entry)
                    return fault
        return None

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [{**asdict(entry.fault), "remaining": entry.remaining} for entry in self._pending]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
