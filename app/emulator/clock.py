"""The emulator's clock: real UTC time plus an offset that the control API can advance."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """UTC now, shifted by an adjustable offset so tests of time windows never sleep."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the emulated current time (tz-aware UTC, millisecond precision like Salesforce)."""
        moment = datetime.now(UTC) + self._offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (or back, with a negative value) and return the new now."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()
