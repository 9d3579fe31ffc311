"""Reading a parsed orgfeed.toml document into configuration records, collecting every problem on the way.

Pure: the document, the file name and the environment arrive as arguments (only `app.config.load`
reads files and the environment). Each table is validated on its own, so one table's mistakes never
hide another's, with the names the document's tables have (as written) in the validation context, so
a table naming an org or view that is not there is told so whatever else is wrong with either. Each
problem is one line, `<file>: <key path>: <what is wrong>`, in the document's order of sections, then
the names and geos that are not unique.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.config.keys import kind_of
from app.config.models import FeedConfig, MappingConfig, SyncConfig, ViewConfig
from app.config.orgs import OrgConfig, OrgTable, org_config
from app.config.problems import problem_lines

SECTIONS = ("orgs", "mappings", "views", "feeds")
TOP_LEVEL_KEYS = ("sync", *SECTIONS)


@dataclass(frozen=True)
class ParsedDocument:
    """The records made from a document's tables (with problems: those that could be made, defaults for wrong keys)."""

    orgs: tuple[OrgConfig, ...] = ()
    mappings: tuple[MappingConfig, ...] = ()
    views: tuple[ViewConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    sync: SyncConfig = field(default_factory=SyncConfig)


@dataclass(frozen=True)
class _Entry:
    """One table as read: how messages name it, its name as written, and its record (None if none could be made)."""

    label: str
    name: str | None
    record: Any


def read_document(
    document: Mapping[str, Any], filename: str, environ: Mapping[str, str], *, resolve_secrets: bool
) -> tuple[ParsedDocument, list[str]]:
    """The records of one TOML document and its problems; secrets are read from `environ` if `resolve_secrets`."""
    known = ", ".join(sorted(TOP_LEVEL_KEYS))
    problems = [f"{key}: unknown key (known keys here: {known})" for key in document if key not in TOP_LEVEL_KEYS]
    tables: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for section in SECTIONS:
        tables[section], section_problems = _tables(document, section)
        problems.extend(section_problems)
    # The names other tables may refer to, as written: a table with a mistake in it is still there.
    names = {section: {_name(table) for _, table in tables[section]} - {None} for section in ("orgs", "views")}
    heroku_connect = {_name(table) for _, table in tables["orgs"] if table.get("managed_by") == "heroku_connect"}
    names["geos"] = {_geo(table) for _, table in tables["orgs"]} - {None}
    secrets_from = environ if resolve_secrets else None
    context: dict[str, Any] = {**names, "heroku_connect": heroku_connect, "environ": secrets_from}
    entries: dict[str, list[_Entry]] = {section: [] for section in SECTIONS}
    for section in SECTIONS:
        for label, table in tables[section]:
            record, table_problems = _read(SCHEMAS[section], label, table, {**context, "org": _name(table) or label})
            if section == "orgs" and record is not None:
                record = org_config(record, secrets_from)
            problems.extend(table_problems)
            entries[section].append(_Entry(label, _name(table), record))
    sync, sync_problems = _read_sync(document.get("sync", {}))
    problems.extend(sync_problems)
    problems.extend(check_unique(entries["orgs"], entries["views"], entries["feeds"]))
    records = {section: tuple(entry.record for entry in entries[section] if entry.record) for section in SECTIONS}
    return ParsedDocument(**records, sync=sync), [f"{filename}: {problem}" for problem in problems]


def _geo(table: dict[str, Any]) -> str | None:
    """The org table's geo as it will be read: its `geo`, else its name upper-cased."""
    geo = table.get("geo")
    if isinstance(geo, str) and geo:
        return geo
    name = _name(table)
    return name.upper() if name else None


def _name(table: dict[str, Any]) -> str | None:
    name = table.get("name")
    return name if isinstance(name, str) and name else None


# What each section's tables are validated as; an org table then becomes an OrgConfig.
SCHEMAS: dict[str, Any] = {"orgs": OrgTable, "mappings": MappingConfig, "views": ViewConfig, "feeds": FeedConfig}


@functools.cache
def _adapter(schema: Any) -> TypeAdapter[Any]:
    return TypeAdapter(schema)


def _read(schema: Any, label: str, table: dict[str, Any], context: Any = None) -> tuple[Any, list[str]]:
    """`table` validated as `schema`, and its problems.

    With problems, the record is what the table makes without its keys at fault (their defaults instead),
    for the uniqueness checks; None when a required key is at fault.
    """
    adapter = _adapter(schema)
    try:
        return adapter.validate_python(table, context=context), []
    except ValidationError as error:
        problems = problem_lines(error, label, schema)
        faulty = {_key_at_fault(detail["loc"], table) for detail in error.errors()}
    rest = {key: value for key, value in table.items() if key not in faulty}
    try:
        return adapter.validate_python(rest, context=context), problems
    except ValidationError:
        return None, problems


def _key_at_fault(loc: tuple[int | str, ...], table: dict[str, Any]) -> str | None:
    """The key of `table` an error is about (a union's tag, which comes first, is never one)."""
    return next((step for step in loc if isinstance(step, str) and step in table), None)


def _tables(document: Mapping[str, Any], section: str) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The tables of an array of tables like [[orgs]], each with the label messages use for it, and problems."""
    value = document.get(section, [])
    if not isinstance(value, list):
        return [], [f"{section}: must be written as [[{section}]] tables, got {kind_of(value)}"]
    tables, problems = [], []
    for index, table in enumerate(value, start=1):
        if not isinstance(table, dict):
            problems.append(f"{section}[{index}]: must be a table, got {kind_of(table)}")
            continue
        name = table.get("name") or table.get("object")
        tables.append((f"{section}.{name}" if isinstance(name, str) and name else f"{section}[{index}]", table))
    return tables, problems


def _read_sync(table: Any) -> tuple[SyncConfig, list[str]]:
    if not isinstance(table, dict):
        return SyncConfig(), [f"sync: must be a table [sync], got {kind_of(table)}"]
    return _read(SyncConfig, "sync", table)  # no key is required, so there is always a record


def check_unique(orgs: list[_Entry], views: list[_Entry], feeds: list[_Entry]) -> list[str]:
    """Problems across tables: org names, geos, view and feed names that are not unique."""
    return [
        *_duplicates("orgs", [(entry.label, entry.name) for entry in orgs], "schema name"),
        *_duplicates("orgs", [(f"{entry.label}.geo", entry.record.geo) for entry in orgs if entry.record], "geo"),
        *_duplicates("views", [(entry.label, entry.name) for entry in views], "name"),
        *_duplicates("feeds", [(entry.label, entry.name) for entry in feeds], "name"),
    ]


def _duplicates(section: str, places: list[tuple[str, str | None]], what: str) -> list[str]:
    """One problem for each (place, value) whose value an earlier entry already has."""
    seen: set[str] = set()
    problems = []
    for place, value in places:
        if value and value in seen:
            problems.append(f"{place}: two {section} have the same {what} {value!r}: each must be unique")
        if value:
            seen.add(value)
    return problems
