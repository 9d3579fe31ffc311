"""Emulators beyond the fixtures' demo orgs, and counting the requests an emulator answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from app.emulator.demo.orgs import demo_orgs
from app.emulator.emulator import Emulator

COUNTER_CAPACITY = 1_000_000


def start_emulator(rows: dict[str, int] | int, seed: int = 23) -> Emulator:
    """A started emulator with the demo orgs at `rows` records per object (a dict: per object); stop() it."""
    return Emulator(demo_orgs(rows=rows, seed=seed)).start()


def count_requests(emu: Emulator, path: str, method: str | None = None) -> Callable[[], int]:
    """A function returning how many requests matching `path` (fnmatch, as faults match) `emu` has had since this call.

    The emulator keeps no request log. A `delay` fault of 0 seconds changes nothing about the
    answers but counts down once per matching request, so its remaining count says how many
    there were. The emulator applies the first pending fault that matches a request: inject
    faults meant to fire on the same path before the counter.
    """
    counter = emu.inject_fault("delay", path=path, count=COUNTER_CAPACITY, method=method, seconds=0.0)
    fields = asdict(counter)

    def served() -> int:
        for pending in emu.faults.pending():
            if {key: pending[key] for key in fields} == fields:
                return COUNTER_CAPACITY - int(pending["remaining"])
        return COUNTER_CAPACITY  # used up: the fault book drops a fault at zero

    return served
