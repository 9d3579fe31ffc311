"""Generated columns: a field's values for every seeded row, computed from the row number.

Nothing is stored per row but, for random-looking fields, one 16-bit pick per row (an index into a
65,536-entry table of natives and of their CSV cells). Each column answers `value(row)` (a Python
native, for SOQL and JSON) and `csv_cells(rows)` (quoted CSV cells, computed with `map` over
tables so that Bulk API 2.0 results stream at hundreds of thousands of rows per second).
"""

from __future__ import annotations

import functools
import random
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import add, floordiv, mod, mul, sub
from typing import Any, Protocol, TypeVar, overload

from app.emulator.formats import csv_cell

T = TypeVar("T")
TABLE_SIZE = 65536
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Column(Protocol):
    def value(self, row: int) -> object: ...

    def csv_cells(self, rows: Sequence[int]) -> Iterable[str]: ...


def random_picks(seed_text: str, count: int) -> array:
    """Return `count` deterministic 16-bit picks for the stream named `seed_text`."""
    rng = random.Random(seed_text)  # seeding from str is stable across runs (sha512 of the text)
    picks = array("H")
    picks.frombytes(rng.randbytes(2 * count))
    return picks


@overload
def spread(values: Sequence[T]) -> list[T]: ...
@overload
def spread(values: Sequence[T], null_share: float) -> list[T | None]: ...
def spread(values: Sequence[T], null_share: float = 0.0) -> list[Any]:
    """Return a 65,536-entry table holding `values` in equal shares, with `null_share` of Nones."""
    nulls = int(TABLE_SIZE * null_share)
    body = TABLE_SIZE - nulls
    table: list[T | None] = [None] * nulls
    count = len(values)
    for index, value in enumerate(values):
        # entries i with i * count // body == index, i.e. the ceil-divided bounds of its share
        table.extend([value] * (-(-(index + 1) * body // count) - -(-index * body // count)))
    return table


@functools.lru_cache(maxsize=512)
def tables_of(table: tuple[object, ...], field_type: str) -> tuple[list[object], list[str]]:
    """Return a 65,536-entry table as natives and CSV cells (cached: orgs and tests share them)."""
    cell_of = {value: csv_cell(field_type, value) for value in dict.fromkeys(table)}
    return list(table), [cell_of[value] for value in table]


def _picked(picks: array, rows: Sequence[int]) -> Iterable[int]:
    if isinstance(rows, range) and rows.step == 1:
        return picks[rows.start : rows.stop]
    return map(picks.__getitem__, rows)


class TableColumn:
    """Values drawn from a 65,536-entry table by each row's pick."""

    def __init__(self, table: Sequence[object], field_type: str, picks: array) -> None:
        self.table, self.cells = tables_of(tuple(table), field_type)
        self.picks = picks

    def value(self, row: int) -> object:
        return self.table[self.picks[row]]

    def csv_cells(self, rows: Sequence[int]) -> Iterable[str]:
        return map(self.cells.__getitem__, _picked(self.picks, rows))


class TemplateColumn:
    """Text built by `template.format(*parts, number)`; parts come from other tables by pick.

    `number` is the row number plus `first`. Used for ids, sequence numbers, names and emails.
    """

    def __init__(
        self,
        template: str,
        parts: Sequence[tuple[Sequence[object], array]] = (),
        first: int = 1,
        with_number: bool = True,
    ) -> None:
        self.template = template
        self.quoted = ('"' + template + '"').format
        # the same template in %-style, which formats faster in bulk ("{:07d}" -> "%07d", "{}" -> "%s")
        self.percent = (
            '"'
            + re.sub(
                r"\{(?::(0?\d*)d)?\}",
                lambda m: f"%{m.group(1)}d" if m.group(1) is not None else "%s",
                template.replace("%", "%%"),
            )
            + '"'
        )
        self.parts = [(list(table), picks) for table, picks in parts]
        self.first = first
        # str.format ignores a surplus number; %-formatting does not, so only pass one it uses
        self.with_number = with_number and self.percent.count("%") - 2 * self.percent.count("%%") > len(self.parts)

    def value(self, row: int) -> object:
        args = [table[picks[row]] for table, picks in self.parts]
        if self.with_number:
            args.append(row + self.first)
        return self.template.format(*args)

    def csv_cells(self, rows: Sequence[int]) -> Iterable[str]:
        args: list[Iterable[object]] = [map(table.__getitem__, _picked(picks, rows)) for table, picks in self.parts]
        numbers = map(add, rows, repeat(self.first))
        if not args:
            return map(mod, repeat(self.percent), numbers) if self.with_number else repeat(self.quoted(), len(rows))
        if self.with_number:
            args.append(numbers)
        return map(mod, repeat(self.percent), zip(*args))


class ReferenceColumn:
    """Ids of another object's rows: target = ((row * mul) // div + offset) % count; None if count is 0.

    The targets repeat every count * divisor rows; when that period is short (owners, users,
    locations) the cells of one period are computed once and looked up by row modulo period.
    """

    def __init__(self, id_template: str, count: int, multiplier: int = 1, divisor: int = 1, offset: int = 0) -> None:
        self.ids = TemplateColumn(id_template)
        self.count, self.multiplier, self.divisor, self.offset = count, multiplier, divisor, offset
        self.period = count * divisor
        self.period_cells: list[str] | None = None
        if 0 < self.period <= TABLE_SIZE:
            self.period_cells = list(self.ids.csv_cells([self.target(row) for row in range(self.period)]))

    def target(self, row: int) -> int:
        return (row * self.multiplier // self.divisor + self.offset) % self.count

    def value(self, row: int) -> object:
        return self.ids.value(self.target(row)) if self.count else None

    def csv_cells(self, rows: Sequence[int]) -> Iterable[str]:
        if not self.count:
            return repeat('""', len(rows))
        if self.period_cells is not None:
            return map(self.period_cells.__getitem__, map(mod, rows, repeat(self.period)))
        targets = map(
            mod,
            map(add, map(floordiv, map(mul, rows, repeat(self.multiplier)), repeat(self.divisor)), repeat(self.offset)),
            repeat(self.count),
        )
        return self.ids.csv_cells(list(targets))


class MinuteColumn:
    """Datetimes on whole minutes: base + row * span // count, plus an optional picked offset.

    Rows are spread evenly over `span` minutes, so later rows were created later.
    """

    def __init__(
        self,
        base: datetime,
        span_minutes: int,
        count: int,
        offsets: Sequence[int] | None = None,
        picks: array | None = None,
    ) -> None:
        self.base = int((base - _EPOCH).total_seconds()) // 60
        self.span, self.count = span_minutes, max(count, 1)
        self.offsets = list(offsets) if offsets is not None else None
        self.picks = picks
        self.first_day = self.base // 1440
        last_day = (self.base + self.span + max(self.offsets or [0])) // 1440 + 1
        self.day_cells = [
            f'"{(_EPOCH + timedelta(days=d)).date().isoformat()}T' for d in range(self.first_day, last_day + 1)
        ]
        self.time_cells = [f'{m // 60:02d}:{m % 60:02d}:00.000Z"' for m in range(1440)]

    def minute(self, row: int) -> int:
        extra = self.offsets[self.picks[row]] if self.offsets is not None and self.picks is not None else 0
        return self.base + row * self.span // self.count + extra

    def value(self, row: int) -> object:
        return _EPOCH + timedelta(minutes=self.minute(row))

    def first_row_from(self, moment: datetime) -> int:
        """Return a row before which no row's value reaches `moment`.

        Values grow with the row, plus a bounded offset.
        """
        wanted = int((moment - _EPOCH).total_seconds()) // 60 - self.base - max(self.offsets or [0])
        return max(0, wanted * self.count // self.span - 1) if self.span else 0

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """Return the earliest and latest value any row can have."""
        high = self.base + self.span + max(self.offsets or [0])
        return _EPOCH + timedelta(minutes=self.base), _EPOCH + timedelta(minutes=high)

    def csv_cells(self, rows: Sequence[int]) -> Iterable[str]:
        minutes: Iterator[int] = map(
            add, map(floordiv, map(mul, rows, repeat(self.span)), repeat(self.count)), repeat(self.base)
        )
        if self.offsets is not None and self.picks is not None:
            minutes = map(add, minutes, map(self.offsets.__getitem__, _picked(self.picks, rows)))
        values = list(minutes)
        days = map(self.day_cells.__getitem__, map(sub, map(floordiv, values, repeat(1440)), repeat(self.first_day)))
        times = map(self.time_cells.__getitem__, map(mod, values, repeat(1440)))
        return map(add, days, times)


class ConstantColumn:
    """The same value on every row (None for fields added after seeding)."""

    def __init__(self, value: object, field_type: str) -> None:
        self.constant = value
        self.cell = csv_cell(field_type, value)

    def value(self, row: int) -> object:
        return self.constant

    def csv_cells(self, rows: Sequence[int]) -> Iterable[str]:
        return repeat(self.cell, len(rows))


class ConvertedColumn:
    """Another column's values passed through `convert` (a field retyped by the control API)."""

    def __init__(self, source: Column, convert: Callable[[object], object], field_type: str) -> None:
        self.source, self.convert, self.field_type = source, convert, field_type

    def value(self, row: int) -> object:
        return self.convert(self.source.value(row))

    def csv_cells(self, rows: Sequence[int]) -> Iterable[str]:
        return (csv_cell(self.field_type, self.value(row)) for row in rows)


class CsvGroup:
    """Adjacent table-drawn fields rendered together: one pre-joined CSV run per group pick.

    Member i's pick for a row is `perms[i][base[row]]`, so the joined text of the members for
    group pick j is fixed; a projection selecting all members in order reads one cell instead
    of several (Bulk rendering is dominated by per-cell work).
    """

    def __init__(
        self, fields: Sequence[str], members: Sequence[TableColumn], base: array, perms: Sequence[array]
    ) -> None:
        self.fields = tuple(fields)
        self.members = tuple(members)
        self.base = base
        self.perms = tuple(perms)
        self._cells: list[str] | None = None

    def csv_cells(self, rows: Sequence[int]) -> Iterable[str]:
        if self._cells is None:
            parts = [map(member.cells.__getitem__, perm) for member, perm in zip(self.members, self.perms)]
            self._cells = list(map(",".join, zip(*parts)))
        return map(self._cells.__getitem__, _picked(self.base, rows))
