"""Seeding: turn declarative value generators into generated columns and tables, deterministically.

Every random stream is named by (seed, org, object, field), so the same seed gives the same data
in any process, and seeding a million rows costs a few random bytes per field, not a loop.
"""

from __future__ import annotations

import functools
import unicodedata
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.emulator.columns import (
    TABLE_SIZE,
    Column,
    ConstantColumn,
    CsvGroup,
    MinuteColumn,
    ReferenceColumn,
    TableColumn,
    TemplateColumn,
    random_picks,
    spread,
)
from app.emulator.schema import SchemaVersion, SObjectType
from app.emulator.table import Table

CREATED_SPAN_MINUTES = 700 * 1440  # seeded rows were created over 700 days ...
CREATED_BEFORE_AS_OF_MINUTES = 730 * 1440  # ... starting 730 days before the data's as-of time
MODIFIED_OFFSETS = tuple(range(0, 30 * 1440, 7))  # and last modified up to 30 days after creation


@dataclass(frozen=True)
class Choice:
    """One of `values` per row (equal shares), None for `null_share` of rows.

    Choices naming the same `stream` pick the same position per row (a city and its country).
    """

    values: tuple[object, ...]
    null_share: float = 0.0
    stream: str | None = None


@dataclass(frozen=True)
class Template:
    """`template.format(*parts[, row number])`; a part names a Choice field or is its own tuple of values."""

    template: str
    parts: tuple[str | tuple[str, ...], ...] = ()
    ascii_lower: bool = False
    with_number: bool = True


@dataclass(frozen=True)
class Reference:
    """An id of a row of `sobject`: ((row * multiplier) // divisor + offset) % count."""

    sobject: str
    multiplier: int = 1
    divisor: int = 1
    offset: int = 0


@dataclass(frozen=True)
class Created:
    """CreatedDate: rows spread over 700 days, older rows first."""


@dataclass(frozen=True)
class Modified:
    """LastModifiedDate / SystemModstamp: CreatedDate plus up to 30 days."""


@dataclass(frozen=True)
class Dates:
    start: date
    days: int
    null_share: float = 0.0


@dataclass(frozen=True)
class Numbers:
    low: float
    high: float
    scale: int
    null_share: float = 0.0


@dataclass(frozen=True)
class Times:
    first_hour: int
    last_hour: int
    step_minutes: int = 15


@dataclass(frozen=True)
class Constant:
    value: object = None


Generator = Choice | Template | Reference | Created | Modified | Dates | Numbers | Times | Constant


@dataclass(frozen=True)
class ObjectSpec:
    """An object to seed: its metadata and one generator per field (Id needs none)."""

    sobject: SObjectType
    generators: Mapping[str, Generator]


@dataclass(frozen=True)
class SeedContext:
    """What a table's generators need from the rest of the org."""

    seed: int
    org: str
    as_of: datetime
    id_templates: Mapping[str, str]
    counts: Mapping[str, int]


def ascii_lower(text: str) -> str:
    """Return `text` lower-cased with accents and non-letters dropped (for email local parts)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@functools.lru_cache(maxsize=512)
def spread_cached(values: tuple[object, ...], null_share: float) -> tuple[object, ...]:
    return tuple(spread(values, null_share))


def seed_table(spec: ObjectSpec, rows: int, context: SeedContext) -> Table:
    """Return a table of `rows` generated records of `spec.sobject`."""
    name = spec.sobject.name
    picks: dict[str, array] = {}

    def stream(label: str) -> array:
        if label not in picks:
            picks[label] = random_picks(f"{context.seed}/{context.org}/{name}/{label}", rows)
        return picks[label]

    groups = _prepare_groups(spec, rows, picks, f"{context.seed}/{context.org}/{name}")
    builder = ColumnBuilder(stream, context, rows)
    columns: dict[str, Column] = {}
    table_columns: dict[str, TableColumn] = {}  # the table-drawn ones, which CSV groups join
    # Choices first: templates (Name, Email) are built from their tables and picks.
    ordered = sorted(spec.sobject.fields, key=lambda f: not isinstance(spec.generators.get(f.name), Choice))
    for field in ordered:
        if field.name != "Id":
            column = builder.column(field.name, field.type, spec.generators.get(field.name, Constant(None)))
            columns[field.name] = column
            if isinstance(column, TableColumn):
                table_columns[field.name] = column
    csv_groups = [CsvGroup(fields, [table_columns[f] for f in fields], base, perms) for fields, base, perms in groups]
    return Table(SchemaVersion(spec.sobject, context.as_of), columns, rows, context.id_templates[name], csv_groups)


TABLE_GENERATORS = (Choice, Dates, Numbers, Times)


def _prepare_groups(
    spec: ObjectSpec, rows: int, picks: dict[str, array], prefix: str
) -> list[tuple[list[str], array, list[array]]]:
    """Find runs of adjacent table-drawn fields and give their members picks derived from one group pick.

    Compound and base64 fields never appear in Bulk results, so they do not break a run.
    Pre-filling `picks` makes every column and template built afterwards use the derived picks.
    """
    runs: list[list[str]] = []
    current: list[str] = []
    for field in spec.sobject.fields:
        if field.is_compound or field.type == "base64":
            continue
        if isinstance(spec.generators.get(field.name), TABLE_GENERATORS):
            current.append(field.name)
        else:
            runs.append(current)
            current = []
    runs.append(current)
    groups = []
    for run in (r for r in runs if len(r) >= 2 and rows):
        labels = [_stream_label(name, spec.generators[name]) for name in run]
        if any(label in picks for label in labels):
            continue  # a pick stream shared with an earlier group: leave this run ungrouped
        base = random_picks(f"{prefix}/group/{run[0]}", rows)
        perms: dict[str, array] = {}
        for label in labels:
            if label not in perms:
                perms[label] = random_picks(f"{prefix}/perm/{label}", TABLE_SIZE)
                picks[label] = array("H", map(perms[label].__getitem__, base))
        groups.append((run, base, [perms[label] for label in labels]))
    return groups


def _stream_label(name: str, generator: Generator) -> str:
    return (generator.stream if isinstance(generator, Choice) else None) or name


class ColumnBuilder:
    """Builds one table's generated columns; remembers Choice tables for the templates built later."""

    def __init__(self, stream: Callable[[str], array], context: SeedContext, rows: int) -> None:
        self.stream, self.context = stream, context
        self.tables: dict[str, list[object]] = {}
        first = context.as_of - timedelta(minutes=CREATED_BEFORE_AS_OF_MINUTES)
        self.created = MinuteColumn(first, CREATED_SPAN_MINUTES, rows)
        self.modified = MinuteColumn(first, CREATED_SPAN_MINUTES, rows, spread(MODIFIED_OFFSETS), stream("modified"))

    def column(self, name: str, field_type: str, generator: Generator) -> Column:
        """Return the column generating field `name` of describe type `field_type`."""
        stream = self.stream
        if isinstance(generator, Choice):
            self.tables[name] = list(spread_cached(generator.values, generator.null_share))
            return TableColumn(self.tables[name], field_type, stream(generator.stream or name))
        if isinstance(generator, Dates):
            days = tuple(generator.start + timedelta(days=d) for d in range(generator.days))
            return TableColumn(spread_cached(days, generator.null_share), field_type, stream(name))
        if isinstance(generator, Numbers):
            steps = 1000
            values = [
                round(generator.low + (generator.high - generator.low) * k / steps, generator.scale)
                for k in range(steps + 1)
            ]
            if field_type in ("int", "long"):
                values = [int(v) for v in values]
            return TableColumn(spread_cached(tuple(values), generator.null_share), field_type, stream(name))
        if isinstance(generator, Times):
            times = tuple(
                time(m // 60, m % 60)
                for m in range(generator.first_hour * 60, generator.last_hour * 60 + 1, generator.step_minutes)
            )
            return TableColumn(spread_cached(times, 0.0), field_type, stream(name))
        if isinstance(generator, Template):
            return self._template(name, generator)
        if isinstance(generator, Reference):
            return ReferenceColumn(
                self.context.id_templates[generator.sobject],
                self.context.counts.get(generator.sobject, 0),
                generator.multiplier,
                generator.divisor,
                generator.offset,
            )
        if isinstance(generator, Created):
            return self.created
        if isinstance(generator, Modified):
            return self.modified
        return ConstantColumn(generator.value, field_type)

    def _template(self, name: str, generator: Template) -> TemplateColumn:
        parts = []
        for index, part in enumerate(generator.parts):
            if isinstance(part, str):
                table, picks = self.tables[part], self.stream(part)
            else:
                table, picks = spread(part), self.stream(f"{name}/{index}")
            if generator.ascii_lower:
                lowered = {v: ascii_lower(str(v)) for v in dict.fromkeys(table)}
                table = [lowered[v] for v in table]
            parts.append((table, picks))
        return TemplateColumn(generator.template, parts, with_number=generator.with_number)
