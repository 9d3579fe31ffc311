"""Turning pydantic's validation errors into orgfeed's problem lines, `<key path>: <what is wrong>`.

pydantic's own wording never reaches the user. A problem raised by orgfeed's validators keeps its text;
every other error type gets a sentence written from what the models declare: the keys of the table
(for an unknown key), a key's description (when it is missing), its allowed values and limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import Tag, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from app.config.keys import PROBLEM, Table, describe_value

EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "list_type": "an array",
    "tuple_type": "an array",
}
BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "less_than_equal": ("le", "at most"),
    "greater_than": ("gt", "more than"),
    "less_than": ("lt", "less than"),
}
# Not problems of their own: a default computed from a key that is already reported.
CONSEQUENCES = frozenset({"default_factory_not_called"})


def problem_lines(error: ValidationError, where: str, schema: Any) -> list[str]:
    """One line per error in `error`, unknown keys first; `schema` is the type that was validated, `where` its place."""
    located = [(detail, _locate(schema, detail["loc"])) for detail in error.errors()]
    # The table's own unknown keys first, as a reader scans it; a nested table's stay with its other errors.
    located.sort(key=lambda item: not (item[0]["type"] == "extra_forbidden" and item[1].depth == 1))
    return [
        f"{where}{place.path}: {_message(detail, place)}"
        for detail, place in located
        if detail["type"] not in CONSEQUENCES
    ]


@dataclass(frozen=True)
class _Place:
    """Where an error is: its key path and depth, the key, the table holding it and the tables that could be there."""

    path: str = ""
    depth: int = 0
    key: str | None = None
    table: type[Table] | None = None
    family: dict[str | None, type[Table]] = field(default_factory=dict)
    field_info: FieldInfo | None = None


def _locate(schema: Any, loc: tuple[int | str, ...]) -> _Place:
    """The place `loc` (pydantic's path of keys, array indexes and union tags) points at in `schema`."""
    tables = _tables_in(schema)
    chosen = _only(tables)
    place = _Place()
    for step in loc:
        if isinstance(step, int):
            # Tables of an array are told apart by their place; a value names itself in the message.
            place = replace(place, path=place.path + (f"[{step + 1}]" if tables else ""))
        elif chosen is None and step in tables:  # a union's tag says which table was chosen; it is no key
            chosen = tables[step]
        else:
            field_info = chosen.model_fields.get(step) if chosen else None
            place = _Place(f"{place.path}.{step}", place.depth + 1, step, chosen, tables, field_info)
            tables = _tables_in(field_info.annotation) if field_info else {}
            chosen = _only(tables)
    return place


def _tables_in(annotation: Any, tag: str | None = None) -> dict[str | None, type[Table]]:
    """The tables an annotation can hold (a union's by their tags, a lone table under None)."""
    if isinstance(annotation, type) and issubclass(annotation, Table):
        return {tag: annotation}
    if get_origin(annotation) is Annotated:
        inner, *metadata = get_args(annotation)
        return _tables_in(inner, next((item.tag for item in metadata if isinstance(item, Tag)), tag))
    found: dict[str | None, type[Table]] = {}
    for argument in get_args(annotation):
        found.update(_tables_in(argument))
    return found


def _only(tables: dict[str | None, type[Table]]) -> type[Table] | None:
    return next(iter(tables.values())) if len(tables) == 1 else None


def _literal_values(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    return [value for argument in get_args(annotation) for value in _literal_values(argument)]


def _message(detail: ErrorDetails, place: _Place) -> str:
    kind, value = detail["type"], detail.get("input")
    if kind == PROBLEM:
        return detail["msg"]
    if kind == "missing" and place.table and place.key:
        return f"missing: {place.table.missing_key_text(place.key)}"
    if kind == "extra_forbidden" and place.table and place.key:
        keys = {key for table in place.family.values() for key in table.model_fields}
        if place.key in keys:
            return place.table.unused_key_text()
        return f"unknown key (known keys here: {', '.join(sorted(keys))})"
    if kind in EXPECTED:
        return f"must be {EXPECTED[kind]}, got {describe_value(value)}"
    if kind == "literal_error" and place.field_info:
        choices = " | ".join(repr(choice) for choice in _literal_values(place.field_info.annotation))
        return f"must be one of {choices}, got {value!r}"
    if kind in BOUNDS:
        limit, words = BOUNDS[kind]
        return f"must be {words} {detail.get('ctx', {}).get(limit)}, got {value!r}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    return f"is not a value this key takes: got {describe_value(value)}"
