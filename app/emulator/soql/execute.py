"""The emulator's SOQL: parse a query, check it against one object's fields, run it over records.

`parse_soql` (`syntax`) reads the text; `compile_query` resolves names and literal types once
and turns the WHERE clause into closures, so filtering a million records never re-walks the tree.
Rules cite pages of Salesforce's SOQL and SOSL Reference, under
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/ (named by page file).
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

from app.emulator.soql.syntax import (
    And,
    Comparison,
    Condition,
    Not,
    Or,
    OrderItem,
    RelativeDate,
    SoqlQuery,
    Value,
    parse_soql,
)
from app.emulator.soql.tokens import MALFORMED_QUERY, SoqlError, build_error

__all__ = [
    "MALFORMED_QUERY",
    "And",
    "Comparison",
    "CompiledQuery",
    "Condition",
    "Not",
    "Or",
    "OrderItem",
    "RelativeDate",
    "SoqlError",
    "SoqlQuery",
    "Value",
    "compile_query",
    "make_invalid_type_error",
    "parse_soql",
]

Record = Mapping[str, Any]  # a field's values are the natives its type calls for (str, Decimal, date, ...)
Predicate = Callable[[Record], bool]
R = TypeVar("R", bound=Record)  # a record type the caller gets back: sorting and filtering keep the objects

# Salesforce describe type -> how the emulator compares it; any other type can't be filtered or sorted.
FAMILIES = {
    **dict.fromkeys(
        ("string", "picklist", "multipicklist", "textarea", "email", "phone", "url", "combobox", "encryptedstring"),
        "text",
    ),
    "id": "id",
    "reference": "id",
    "boolean": "boolean",
    "int": "integer",
    "long": "integer",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
}
# The type each family names in "value of filter criterion for field 'X' must be of type ...".
TYPE_NAMES = {
    "text": "string",
    "id": "id",
    "boolean": "boolean",
    "integer": "integer",
    "double": "double",
    "date": "date",
    "datetime": "dateTime",
    "time": "time",
}
# sforce_api_calls_soql_select_orderby.htm: multi-select picklists can't be sorted.
UNSORTABLE_TYPES = frozenset({"multipicklist"})
NO_SUCH_COLUMN = (
    "No such column '{field}' on entity '{sobject}'. If you are attempting to use a custom field, be sure "
    "to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
    "the appropriate names."
)
NO_SUCH_SOBJECT = (
    "sObject type '{sobject}' is not supported. If you are attempting to use a custom object, be sure to "
    "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
ID_PATTERN = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?", re.ASCII)
ID_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


@dataclass(frozen=True)
class SortPass:
    """One ORDER BY key compiled: `key` returns None for a null value."""

    key: Callable[[Record], object]
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class QueryContext:
    """What compiling one query needs to know about its object, its text and the day it runs."""

    text: str
    sobject: str
    field_types: Mapping[str, str]
    canonical_names: Mapping[str, str]
    today: date


def match_every(record: Record) -> bool:
    """Return True: the predicate of a query without WHERE."""
    return True


@dataclass(frozen=True)
class CompiledQuery:
    """A query checked against one object's fields, ready to run over that object's records."""

    fields: tuple[str, ...]
    is_count: bool
    limit: int | None
    offset: int | None
    predicate: Predicate = dataclasses.field(default=match_every, compare=False, repr=False)
    sort_passes: tuple[SortPass, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def matches(self, record: Record) -> bool:
        """Return whether `record` satisfies the WHERE clause (a missing key is a null)."""
        return self.predicate(record)

    def sort(self, records: Iterable[R]) -> list[R]:
        """Return `records` in ORDER BY order; stable, so ties and queries without ORDER BY keep input order."""
        rows = list(records)
        for sort_pass in reversed(self.sort_passes):
            rows = sort_rows(rows, sort_pass)
        return rows

    def select(self, records: Iterable[R]) -> list[R]:
        """Return the records the query answers: filtered, sorted, then OFFSET skipped and LIMIT kept."""
        start = self.offset or 0
        stop = None if self.limit is None else start + self.limit
        matching = records if self.predicate is match_every else filter(self.predicate, records)
        if not self.sort_passes:
            return list(islice(matching, start, stop))
        return self.sort(matching)[start:stop]


def compile_query(
    query: SoqlQuery, field_types: Mapping[str, str], *, sobject_name: str, now: datetime
) -> CompiledQuery:
    """Return `query` bound to the object's fields (canonical name -> describe type) and to `now`.

    Names resolve case-insensitively to their canonical spelling. Date literals count whole UTC days
    around `now` (Salesforce uses the user's time zone; the emulator's users all live in UTC); a
    naive `now` is taken as UTC. Raises SoqlError (INVALID_FIELD, INVALID_QUERY_FILTER_OPERATOR).
    """
    today = (now if now.tzinfo is None else now.astimezone(UTC)).date()
    context = QueryContext(query.text, sobject_name, field_types, {name.lower(): name for name in field_types}, today)
    fields = resolve_select_list(context, query)
    predicate = match_every if query.where is None else compile_condition(context, query.where)
    sort_passes = tuple(compile_order_item(context, item) for item in query.order_by)
    return CompiledQuery(fields, query.is_count, query.limit, query.offset, predicate, sort_passes)


def make_invalid_type_error(query: SoqlQuery) -> SoqlError:
    """Return the INVALID_TYPE error Salesforce gives when the FROM object does not exist."""
    message = NO_SUCH_SOBJECT.format(sobject=query.sobject)
    return build_error(query.text, query.sobject_at, message, "INVALID_TYPE")


def resolve_field(context: QueryContext, name: str, at: int) -> str:
    """Return the canonical spelling of field `name`; raises INVALID_FIELD if the object has none."""
    canonical = context.canonical_names.get(name.lower())
    if canonical is None:
        message = NO_SUCH_COLUMN.format(field=name, sobject=context.sobject)
        raise build_error(context.text, at, message, "INVALID_FIELD")
    return canonical


def resolve_select_list(context: QueryContext, query: SoqlQuery) -> tuple[str, ...]:
    """Return the selected fields' canonical names; a field named twice is INVALID_FIELD."""
    positions = query.field_at or (0,) * len(query.fields)
    fields = tuple(resolve_field(context, name, at) for name, at in zip(query.fields, positions))
    seen: set[str] = set()
    for name in fields:
        if name in seen:
            # sforce_api_calls_soql_select.htm (FIELDS() section) shows this error and code verbatim.
            raise SoqlError("INVALID_FIELD", f"duplicate field selected: {name}")
        seen.add(name)
    return fields


def compile_condition(context: QueryContext, condition: Condition) -> Predicate:
    """Return a predicate for `condition`, built once from closures."""
    if isinstance(condition, Comparison):
        return compile_comparison(context, condition)
    if isinstance(condition, Not):
        inner = compile_condition(context, condition.condition)
        return lambda record: not inner(record)
    tests = [compile_condition(context, part) for part in condition.conditions]
    return join_all(tests) if isinstance(condition, And) else join_any(tests)


def compile_comparison(context: QueryContext, comparison: Comparison) -> Predicate:
    """Return a predicate for one field expression, its literals checked against the field's type."""
    field = resolve_field(context, comparison.field, comparison.at)
    family = FAMILIES.get(context.field_types[field], "other")
    if family == "other":
        message = f"field '{field}' can not be filtered in query call"
        raise build_error(context.text, comparison.at, message, "INVALID_FIELD")
    many = comparison.operator in ("IN", "NOT IN")
    value = comparison.value  # a tuple exactly when `many`
    values: Sequence[Value] = value if isinstance(value, tuple) else (value,)
    positions = comparison.value_at or (comparison.at,) * len(values)
    literals = [check_literal(context, field, family, v, at) for v, at in zip(values, positions)]
    if many:
        test = compile_membership(field, family, literals, context.today)
        return test if comparison.operator == "IN" else (lambda record: not test(record))
    if family == "boolean" and comparison.operator not in ("=", "!="):
        message = "invalid operator on boolean field"
        raise build_error(context.text, comparison.at, message, "INVALID_QUERY_FILTER_OPERATOR")
    return compile_test(field, family, comparison.operator, literals[0], context.today)


def check_literal(context: QueryContext, field: str, family: str, value: Value, at: int) -> object:
    """Return `value` in the form the field's tests compare; raises INVALID_FIELD on a type mismatch.

    sforce_api_calls_soql_select_dateformats.htm: "If you specify a dateTime format in a query, you can
    filter only on dateTime fields. Similarly, if you specify a date format value, you can filter only
    on date fields." The error code and message are the ones Salesforce users quote, e.g. "value of
    filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in
    quotes [INVALID_FIELD]".
    """
    if value is None:
        return None
    is_number = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
    if family == "text" and isinstance(value, str):
        # A text field stores '' as null, so '' in a filter means null:
        # https://github.com/django-salesforce/django-salesforce/issues/143
        return value.lower() or None
    if family == "id" and isinstance(value, str):
        return read_id_literal(context, value, at)
    if family == "boolean" and isinstance(value, bool):
        return value
    if family == "integer" and is_number and isinstance(value, int):
        return value
    if family == "double" and is_number and isinstance(value, (int, Decimal)):
        return float(value)
    if family == "date" and (isinstance(value, RelativeDate) or type(value) is date):
        return value
    if family == "datetime" and isinstance(value, (RelativeDate, datetime)):
        return value
    quoted = "should" if family in ("text", "id") else "should not"
    message = (
        f"value of filter criterion for field '{field}' must be of type {TYPE_NAMES[family]} "
        f"and {quoted} be enclosed in quotes"
    )
    raise build_error(context.text, at, message, "INVALID_FIELD")


def read_id_literal(context: QueryContext, value: str, at: int) -> str | None:
    """Return the 15-character, case-sensitive form of an ID literal ('' is null)."""
    if value == "":
        return None
    suffix = value[15:].upper()
    if not ID_PATTERN.fullmatch(value) or any(char not in ID_SUFFIX_ALPHABET for char in suffix):
        raise build_error(context.text, at, f"invalid ID field: {value}", "INVALID_QUERY_FILTER_OPERATOR")
    if not suffix:
        return value
    # An 18-character ID encodes the case of its first 15 characters, so any letter case matches.
    flags = "".join(f"{ID_SUFFIX_ALPHABET.index(char):05b}"[::-1] for char in suffix)
    return "".join(char.upper() if flag == "1" else char.lower() for char, flag in zip(value[:15], flags))


def compile_test(field: str, family: str, operator_text: str, literal: object, today: date) -> Predicate:
    """Return a predicate comparing `field` with one checked literal.

    SOQL compares with two-valued logic: a null field never matches `=`, `<`, `<=`, `>`, `>=` but does
    match `!=` (so NOT IN and NOT keep null rows too). The reference does not spell this out;
    django-salesforce, tested against live orgs, documents `FirstName != 'text'` as "values except
    'text' plus NULL" (https://github.com/django-salesforce/django-salesforce/wiki/Empty-strings).
    A null boolean counts as false
    (sforce_api_calls_soql_null.htm, sforce_api_calls_soql_relationships_lookup.htm).
    """
    if literal is None:
        return compile_null_test(field, family, operator_text)
    if isinstance(literal, RelativeDate):
        low, high = find_day_bounds(literal, today, as_datetime=family == "datetime")
        return compile_range_test(field, operator_text, low, high)
    if family == "boolean":
        wanted = literal if operator_text == "=" else not literal
        return lambda record: bool(record.get(field)) == wanted
    compare = OPERATORS[operator_text]
    if family in ("text", "id"):
        # sforce_api_calls_soql_select_comparisonoperators.htm: text comparisons are case-insensitive;
        # IDs compare on their case-sensitive 15-character form.
        fold: Callable[[str], str] = str.lower if family == "text" else (lambda value: value[:15])
        if operator_text == "!=":
            return lambda record: not (value := record.get(field)) or fold(value) != literal
        return lambda record: bool((value := record.get(field)) and compare(fold(value), literal))
    if operator_text == "!=":
        return lambda record: (value := record.get(field)) is None or value != literal
    return lambda record: (value := record.get(field)) is not None and compare(value, literal)


def compile_null_test(field: str, family: str, operator_text: str) -> Predicate:
    """Return the predicate for `field = null` or `field != null`; ordering against null never matches."""
    if operator_text not in ("=", "!="):
        return lambda record: False
    if family in ("text", "id", "boolean"):
        # '' is null in a text field; sforce_api_calls_soql_null.htm: "WHERE Test_c = null is equivalent
        # to WHERE Test_c = false" for a boolean field.
        if operator_text == "=":
            return lambda record: not record.get(field)
        return lambda record: bool(record.get(field))
    if operator_text == "=":
        return lambda record: record.get(field) is None
    return lambda record: record.get(field) is not None


def compile_range_test(field: str, operator_text: str, low: date, high: date) -> Predicate:
    """Return the predicate comparing `field` with the day range [low, high) of a date literal.

    sforce_api_calls_soql_select_dateformats.htm: "To find values within the range, use =. To find
    values on either side of the range, use > or <."
    """
    if operator_text == "=":
        return lambda record: (value := record.get(field)) is not None and low <= value < high
    if operator_text == "!=":
        return lambda record: (value := record.get(field)) is None or not low <= value < high
    bound, compare = {
        "<": (low, operator.lt),
        "<=": (high, operator.lt),
        ">": (high, operator.ge),
        ">=": (low, operator.ge),
    }[operator_text]
    return lambda record: (value := record.get(field)) is not None and compare(value, bound)


def find_day_bounds(literal: RelativeDate, today: date, *, as_datetime: bool) -> tuple[date, date]:
    """Return the start (inclusive) and end (exclusive) of the days a date literal names.

    sforce_api_calls_soql_select_dateformats.htm: LAST_N_DAYS:n "starts with the current day and
    continues for the past n days ... includes the current day"; NEXT_N_DAYS:n "starts 00:00:00 of the
    next day and continues for the next n days".
    """
    first, days = {
        "TODAY": (0, 1),
        "YESTERDAY": (-1, 1),
        "TOMORROW": (1, 1),
        "LAST_N_DAYS": (-(literal.n or 0), (literal.n or 0) + 1),
        "NEXT_N_DAYS": (1, literal.n or 0),
    }[literal.name]
    low = today + timedelta(days=first)
    high = low + timedelta(days=days)
    if as_datetime:
        return datetime.combine(low, time(), UTC), datetime.combine(high, time(), UTC)
    return low, high


def compile_membership(field: str, family: str, literals: list[object], today: date) -> Predicate:
    """Return the predicate for `field IN (literals)`; null matches only when null is listed."""
    if any(isinstance(literal, RelativeDate) for literal in literals):
        return join_any([compile_test(field, family, "=", literal, today) for literal in literals])
    if family == "boolean":
        wanted = frozenset(bool(literal) for literal in literals)
        return lambda record: bool(record.get(field)) in wanted
    listed = frozenset(literal for literal in literals if literal is not None)
    null_listed = None in literals
    if family == "text":
        return lambda record: (value.lower() in listed) if (value := record.get(field)) else null_listed
    if family == "id":
        return lambda record: (value[:15] in listed) if (value := record.get(field)) else null_listed
    return lambda record: null_listed if (value := record.get(field)) is None else value in listed


def join_all(tests: list[Predicate]) -> Predicate:
    """Return a predicate true when every one of `tests` is, evaluated left to right."""
    if len(tests) == 2:
        first, second = tests
        return lambda record: first(record) and second(record)
    return lambda record: all(test(record) for test in tests)


def join_any(tests: list[Predicate]) -> Predicate:
    """Return a predicate true when any one of `tests` is, evaluated left to right."""
    if len(tests) == 2:
        first, second = tests
        return lambda record: first(record) or second(record)
    return lambda record: any(test(record) for test in tests)


def compile_order_item(context: QueryContext, item: OrderItem) -> SortPass:
    """Return the sort pass for one ORDER BY key.

    sforce_api_calls_soql_select_orderby.htm: "Sorting is case insensitive"; nulls sort first unless
    NULLS LAST (DESC defaults to NULLS LAST, as parse_order_item records).
    """
    field = resolve_field(context, item.field, item.at)
    field_type = context.field_types[field]
    family = FAMILIES.get(field_type, "other")
    if family == "other" or field_type in UNSORTABLE_TYPES:
        message = f"field '{field}' can not be sorted in a query call"
        raise build_error(context.text, item.at, message, "INVALID_FIELD")
    if family == "text":

        def key(record: Record) -> object:
            value = record.get(field)
            return value.lower() if value else None

    elif family == "id":

        def key(record: Record) -> object:
            return record.get(field) or None

    elif family == "boolean":

        def key(record: Record) -> object:
            return bool(record.get(field))

    else:

        def key(record: Record) -> object:
            return record.get(field)

    return SortPass(key, item.descending, item.nulls_first)


def sort_rows(rows: list[R], sort_pass: SortPass) -> list[R]:
    """Return `rows` stably sorted by one key, its nulls gathered first or last."""
    keys: list[Any] = list(map(sort_pass.key, rows))  # comparable with each other, or None
    nulls = [index for index, key in enumerate(keys) if key is None]
    present = [index for index, key in enumerate(keys) if key is not None] if nulls else list(range(len(rows)))
    present.sort(key=keys.__getitem__, reverse=sort_pass.descending)  # reverse keeps ties stable
    order = nulls + present if sort_pass.nulls_first else present + nulls
    return [rows[index] for index in order]
