"""One object's records in one org: generated rows, written overrides, the recycle bin and the delete log.

Rows are numbered; row n has the id `id_template.format(n + 1)`. Rows below `seeded` take their
values from generated columns unless a write overrode them; rows from `seeded` on were inserted
and live entirely in `overrides`. Callers hold the org's lock around every method.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import accumulate, repeat
from operator import add
from typing import NamedTuple

from app.emulator.changes import Change
from app.emulator.columns import Column, ConstantColumn, CsvGroup, TemplateColumn
from app.emulator.formats import csv_cell, json_value
from app.emulator.ids import record_number
from app.emulator.schema import SchemaVersion, SObjectType

BLOCK_ROWS = 2000
CACHE_LIMIT = 768 * 1024 * 1024  # rendered CSV kept per emulator (about 1.3M Employee rows)
BlockKey = tuple[tuple[str, ...], int]  # (the projection's fields, block number) of cached CSV


class CsvChunk(NamedTuple):
    """Encoded CSV lines and the byte offset where each line ends."""

    data: bytes
    ends: array

    def lines(self, first: int, stop: int) -> bytes:
        """Return lines first..stop-1 (positions within the chunk)."""
        begin = self.ends[first - 1] if first else 0
        return self.data[begin : self.ends[stop - 1]] if stop > first else b""


class CacheBudget:
    """Bytes of rendered CSV the tables of one emulator may keep, least recently used evicted first."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        self.limit, self.used = limit, 0
        self._entries: OrderedDict[tuple[int, BlockKey], tuple[Table, int]] = OrderedDict()
        self._lock = threading.Lock()

    def reserve(self, table: Table, key: BlockKey, size: int, evict: bool) -> bool:
        """Account for a new block; evict older blocks (of any table) if `evict`, else refuse when full."""
        with self._lock:
            while self.used + size > self.limit:
                if not evict or not self._entries:
                    return False
                (_, old_key), (old_table, old_size) = self._entries.popitem(last=False)
                old_table.forget_block(old_key)
                self.used -= old_size
            self._entries[(id(table), key)] = (table, size)
            self.used += size
            return True

    def touch(self, table: Table, key: BlockKey) -> None:
        with self._lock:
            if (id(table), key) in self._entries:
                self._entries.move_to_end((id(table), key))

    def release(self, table: Table, key: BlockKey) -> None:
        with self._lock:
            entry = self._entries.pop((id(table), key), None)
            if entry is not None:
                self.used -= entry[1]


class RecordView(Mapping[str, object]):
    """A record as the SOQL compiler sees it: canonical field name -> Python native (None = null)."""

    __slots__ = ("row", "table")

    def __init__(self, table: Table, row: int) -> None:
        self.table, self.row = table, row

    def __getitem__(self, name: str) -> object:
        if name not in self.table.columns:
            raise KeyError(name)
        return self.table.value(self.row, name)

    def __iter__(self) -> Iterator[str]:
        return iter(f.name for f in self.table.schema.sobject.fields)

    def __len__(self) -> int:
        return len(self.table.schema.sobject.fields)


class Table:
    """The records of one object in one org."""

    def __init__(
        self,
        schema: SchemaVersion,
        columns: dict[str, Column],
        seeded: int,
        id_template: str,
        groups: Sequence[CsvGroup] = (),
    ) -> None:
        self.schema = schema
        self.columns = dict(columns)
        self.columns["Id"] = TemplateColumn(id_template)
        self.seeded = seeded
        self.size = seeded
        self.id_template = id_template
        self.groups = {group.fields[0]: group for group in groups}
        self.overrides: dict[int, dict[str, object]] = {}
        self.recycle_bin: dict[int, datetime] = {}
        self.purged: set[int] = set()
        self.delete_log: dict[int, datetime] = {}
        self.log_trimmed_at: datetime | None = None
        self._csv_cache: dict[BlockKey, CsvChunk] = {}
        self.cache_budget = CacheBudget()
        self.on_change: Callable[[Change], None] | None = None  # set by the org: feeds the Pub/Sub event bus

    def report(self, change: Change) -> None:
        """Tell the org's listeners about a committed write (records.py calls this after each one)."""
        if self.on_change is not None:
            self.on_change(change)

    @property
    def sobject(self) -> SObjectType:
        return self.schema.sobject

    def record_id(self, row: int) -> str:
        return self.id_template.format(row + 1)

    def row_of(self, record_id: str) -> int | None:
        """Return the row of `record_id` (15 or 18 characters), or None if it names no row."""
        number = record_number(record_id, self.id_template)
        if number is None or not 1 <= number <= self.size:
            return None
        return number - 1

    def exists(self, row: int) -> bool:
        return row not in self.purged and row < self.size

    def is_deleted(self, row: int) -> bool:
        return row in self.recycle_bin

    def value(self, row: int, name: str) -> object:
        """Return field `name` of `row`; None for null."""
        written = self.overrides.get(row)
        if written is not None and name in written:
            return written[name]
        if row >= self.seeded and name != "Id":
            return None
        return self.columns[name].value(row)

    def view(self, row: int) -> RecordView:
        return RecordView(self, row)

    def rows(self, include_deleted: bool) -> Sequence[int]:
        """Return the rows a query sees, in Id order (queryAll: with the recycle bin)."""
        hidden = self.purged if include_deleted else self.purged | self.recycle_bin.keys()
        if not hidden:
            return range(self.size)
        return [row for row in range(self.size) if row not in hidden]

    def write(self, row: int, values: Mapping[str, object]) -> None:
        self.overrides.setdefault(row, {}).update(values)
        self.invalidate(row)

    def insert(self, values: Mapping[str, object]) -> int:
        row = self.size
        self.size += 1
        self.overrides[row] = dict(values)
        self.invalidate(row)
        return row

    def set_schema(self, schema: SchemaVersion) -> None:
        self.schema = schema
        self.clear_cache()

    def add_column(self, name: str, column: Column | None = None, field_type: str = "string") -> None:
        self.columns[name] = column or ConstantColumn(None, field_type)
        self.clear_cache()

    def clear_cache(self) -> None:
        for key in list(self._csv_cache):
            self.cache_budget.release(self, key)
        self._csv_cache.clear()

    def invalidate(self, row: int) -> None:
        """Forget cached CSV of the block holding `row`."""
        block = row // BLOCK_ROWS
        for key in [key for key in self._csv_cache if key[1] == block]:
            self._csv_cache.pop(key, None)
            self.cache_budget.release(self, key)

    def forget_block(self, key: BlockKey) -> None:
        """Drop one cached block (the budget evicted it)."""
        self._csv_cache.pop(key, None)

    def keep_block(self, fields: tuple[str, ...], block: int, chunk: CsvChunk, evict: bool = True) -> bool:
        """Cache a rendered block; without `evict` (the warm-up) refuse when the budget is spent."""
        if (fields, block) in self._csv_cache:
            return True
        if not self.cache_budget.reserve(self, (fields, block), len(chunk.data), evict):
            return False
        self._csv_cache[(fields, block)] = chunk
        return True

    def csv_block(self, fields: tuple[str, ...], block: int) -> CsvChunk:
        """Return the encoded CSV of the full block `block` (all its rows, none hidden).

        Blocks are cached per projection within the shared CacheBudget: repeated full
        extracts of the same fields (benchmarks, reloads) are served without re-rendering.
        """
        key = (fields, block)
        cached = self._csv_cache.get(key)
        if cached is not None:
            self.cache_budget.touch(self, key)
            return cached
        start = block * BLOCK_ROWS
        chunk = self.csv_chunk(fields, range(start, start + BLOCK_ROWS))
        self.keep_block(fields, block, chunk)
        return chunk

    def csv_chunk(self, fields: Sequence[str], rows: Sequence[int], newline: str = "\n") -> CsvChunk:
        """Return the encoded CSV lines of `rows` with the end offset of each line."""
        lines = self.csv_lines(fields, rows)
        text = newline.join(lines) + newline if lines else ""
        if text.isascii():
            data = text.encode("ascii")
            sizes = map(len, lines)
        else:  # encode line by line once, so the offsets count bytes
            encoded = list(map(str.encode, lines))
            data = newline.encode().join(encoded) + newline.encode()
            sizes = map(len, encoded)
        return CsvChunk(data, array("Q", accumulate(map(add, sizes, repeat(len(newline))))))

    def json_record(self, row: int, fields: Sequence[str], api_version: str) -> dict[str, object]:
        """Return the REST JSON of `row` with `fields` in order, `attributes` first."""
        sobject = self.sobject
        record_id = self.record_id(row)
        url = f"/services/data/v{api_version}/sobjects/{sobject.name}/{record_id}"
        record: dict[str, object] = {"attributes": {"type": sobject.name, "url": url}}
        for name in fields:
            field = sobject.field(name)
            kind = field.type if field else "string"
            if kind == "address":
                record[name] = self._address(row, name)
            elif kind == "location":
                record[name] = self._location(row, name)
            elif kind == "base64":
                record[name] = f"{url}/{name}" if self.value(row, name) is not None else None
            else:
                record[name] = json_value(kind, self.value(row, name))
        return record

    def _components(self, compound: str) -> dict[str, str]:
        return {f.name: f.type for f in self.sobject.fields if f.compound_field_name == compound}

    def _address(self, row: int, name: str) -> object:
        # An address compound holds its components under these keys (REST API: "Address Compound Fields").
        prefix = name.removesuffix("Address")
        keys = {
            "Street": "street",
            "City": "city",
            "State": "state",
            "PostalCode": "postalCode",
            "Country": "country",
            "Latitude": "latitude",
            "Longitude": "longitude",
            "GeocodeAccuracy": "geocodeAccuracy",
        }
        parts = {
            key: self.value(row, prefix + suffix) for suffix, key in keys.items() if prefix + suffix in self.columns
        }
        if all(v is None for v in parts.values()):
            return None
        return dict(sorted(parts.items()))

    def _location(self, row: int, name: str) -> object:
        base = name.removesuffix("__c")
        latitude = self.value(row, f"{base}__Latitude__s")
        longitude = self.value(row, f"{base}__Longitude__s")
        if latitude is None and longitude is None:
            return None
        return {"latitude": latitude, "longitude": longitude}

    def csv_lines(self, fields: Sequence[str], rows: Sequence[int]) -> list[str]:
        """Return one CSV line (no newline) per row, fields in order; rows ascending."""
        types = [self._type(name) for name in fields]
        seeded = rows
        extra: Sequence[int] = ()
        if rows and rows[-1] >= self.seeded:
            cut = _first_at_least(rows, self.seeded)
            seeded, extra = rows[:cut], rows[cut:]
        cells: dict[int, list[str]] = {}
        order: list[int] = []
        for source in self._csv_sources(fields):
            # one column may serve several fields (LastModifiedDate, SystemModstamp)
            if id(source) not in cells:
                cells[id(source)] = list(source.csv_cells(seeded))
            order.append(id(source))
        lines = list(map(",".join, zip(*(cells[key] for key in order))))
        if len(fields) == 0:
            lines = [""] * len(seeded)
        if self.overrides:
            overrides = self.overrides
            for position, row in enumerate(seeded):
                if row in overrides:
                    lines[position] = self._csv_line(row, fields, types)
        lines.extend(self._csv_line(row, fields, types) for row in extra)
        return lines

    def _csv_sources(self, fields: Sequence[str]) -> list[Column | CsvGroup]:
        """Return what renders `fields`: whole groups where the projection has all their members in order."""
        sources: list[Column | CsvGroup] = []
        position = 0
        while position < len(fields):
            group = self.groups.get(fields[position])
            size = len(group.fields) if group else 0
            if (
                group
                and tuple(fields[position : position + size]) == group.fields
                and all(self.columns[name] is member for name, member in zip(group.fields, group.members))
            ):
                sources.append(group)
                position += size
            else:
                sources.append(self.columns[fields[position]])
                position += 1
        return sources

    def _csv_line(self, row: int, fields: Sequence[str], types: Sequence[str]) -> str:
        return ",".join(csv_cell(kind, self.value(row, name)) for name, kind in zip(fields, types))

    def _type(self, name: str) -> str:
        field = self.sobject.field(name)
        return field.type if field else "string"


def _first_at_least(rows: Sequence[int], bound: int) -> int:
    """Return the position of the first row >= bound in ascending `rows`."""
    low, high = 0, len(rows)
    while low < high:
        middle = (low + high) // 2
        if rows[middle] < bound:
            low = middle + 1
        else:
            high = middle
    return low
