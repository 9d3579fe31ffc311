"""A committed change to one record, as records.py reports it to whoever listens (the Pub/Sub event bus)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Change:
    """`change_type` is CREATE, UPDATE, DELETE or UNDELETE; `fields` are those the write set (CREATE: all it set)."""

    change_type: str
    record_id: str
    fields: tuple[str, ...]
    at: datetime
    user_id: str
