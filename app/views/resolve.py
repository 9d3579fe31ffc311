"""A [[views]] spec resolved against the catalog: one branch per org, aligned columns, reconciled types. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.config import OrgConfig, ViewConfig
from app.views import ViewError
from app.views.catalog import Catalog, TableColumn

# Columns of a mirrored table that are never view columns (sfid becomes `id`).
HIDDEN_COLUMNS = frozenset({"id", "sfid", "isdeleted", "_hc_lastop", "_hc_err"})
RESERVED_OUTPUT = frozenset({"id", "geo"})


@dataclass(frozen=True)
class Join:
    lookup: str  # the lookup column on the base table
    table: str  # the parent table
    alias: str


@dataclass(frozen=True)
class Branch:
    """The `select` over one org."""

    org: str
    geo: str
    schema: str
    table: str  # the base table (also its alias)
    joins: tuple[Join, ...]
    sfid_collation: str | None  # the sfid column's collation when not "C" is needed in the expression


@dataclass(frozen=True)
class Source:
    """Where one view column comes from in one branch; alias None when that org lacks it."""

    alias: str | None
    column: str | None
    sql_type: str | None


@dataclass(frozen=True)
class ViewColumn:
    name: str
    sql_type: str  # the type every branch is cast to (when it differs)
    field: str  # as configured: "AssessmentDate", "Employee.LastName"
    sources: tuple[Source, ...]  # one per branch, in branch order


@dataclass(frozen=True)
class ResolvedView:
    name: str
    id_strategy: str
    where: str | None
    materialized: bool
    indexed: tuple[str, ...]
    geo_type: str
    branches: tuple[Branch, ...]
    columns: tuple[ViewColumn, ...]
    searchable: tuple[str, ...] = ()


def resolve_view(view: ViewConfig, orgs: tuple[OrgConfig, ...], catalog: Catalog) -> ResolvedView:
    """The view's branches and columns; raises ViewError naming the missing table or column and what to do."""
    chosen = [org for org in orgs if view.orgs is None or org.name in view.orgs]
    if not chosen:
        raise ViewError(f"view {view.name}: no org to read from: check its `orgs`")
    base_table = view.object.lower()
    branches, tables = [], []
    for org in chosen:
        base_columns = _table(catalog, view.name, org.name, base_table)
        joins, parents = [], {}
        for join in view.joins:
            parent_table = join.object.lower()
            parent_columns = _table(catalog, view.name, org.name, parent_table)
            lookup = join.lookup.lower()
            if lookup not in {column.name for column in base_columns}:
                raise ViewError(
                    f"view {view.name}: {org.name}.{base_table} has no lookup column {lookup} "
                    f"(joins: lookup = {join.lookup!r}): map the field, or fix the join"
                )
            alias = parent_table if parent_table != base_table and parent_table not in parents else lookup
            joins.append(Join(lookup=lookup, table=parent_table, alias=alias))
            parents[join.object.lower()] = (alias, parent_columns)
        sfid = next((column for column in base_columns if column.name == "sfid"), None)
        if sfid is None:
            raise ViewError(f"view {view.name}: {org.name}.{base_table} has no sfid column: is it a mirrored table?")
        branches.append(
            Branch(
                org=org.name,
                geo=org.geo,
                schema=org.name,
                table=base_table,
                joins=tuple(joins),
                sfid_collation=None if sfid.collation == "C" else (sfid.collation or "default"),
            )
        )
        tables.append((base_columns, parents))
    columns = _columns(view, base_table, tables)
    for name in view.indexed:
        if name not in {column.name for column in columns}:
            raise ViewError(f"view {view.name}: indexed column {name!r} is not one of the view's columns")
    _check_searchable(view, columns)
    geo_length = max(len(branch.geo) for branch in branches)
    return ResolvedView(
        name=view.name,
        id_strategy=view.id_strategy,
        where=view.where,
        materialized=view.materialized,
        indexed=view.indexed,
        geo_type=f"varchar({geo_length})",
        branches=tuple(branches),
        columns=tuple(columns),
        searchable=view.searchable,
    )


TEXT_TYPE = re.compile(r"^(text|character varying(\(\d+\))?)$")


def _check_searchable(view: ViewConfig, columns: list[ViewColumn]) -> None:
    """Raises ViewError unless every searchable column is a text column of the base object (a trigram index
    on a parent's column would not serve the view: the value comes through a lookup)."""
    by_name = {column.name: column for column in columns}
    for name in view.searchable:
        column = by_name.get(name)
        if column is None:
            raise ViewError(f"view {view.name}: searchable column {name!r} is not one of the view's columns")
        if not TEXT_TYPE.match(column.sql_type):
            raise ViewError(
                f"view {view.name}: searchable column {name!r} is {column.sql_type}: only text columns can be searched"
            )
        if "." in column.field:
            raise ViewError(
                f"view {view.name}: searchable column {name!r} comes from {column.field.split('.')[0]} "
                "through a lookup: only the base object's columns can have a search index"
            )


def _table(catalog: Catalog, view: str, schema: str, table: str) -> list[TableColumn]:
    columns = catalog.get((schema, table))
    if not columns:
        raise ViewError(
            f"view {view}: table {schema}.{table} does not exist: run `orgfeed sync` first, "
            "or leave that org out of the view's `orgs`"
        )
    return columns


def _columns(view: ViewConfig, base_table: str, tables: list) -> list[ViewColumn]:
    """The view's columns in order, each with its source in every branch."""
    wanted: list[tuple[str, str | None, str]]  # (output name, parent or None, column name)
    if view.columns is None:
        wanted = []
        for base_columns, _ in tables:
            for column in base_columns:
                if column.name not in HIDDEN_COLUMNS and column.name not in [name for name, _, _ in wanted]:
                    wanted.append((column.name, None, column.name))
    else:
        wanted = [
            (
                (config.alias or config.source.split(".")[-1].lower()),
                config.source.split(".")[0].lower() if "." in config.source else None,
                config.source.split(".")[-1].lower(),
            )
            for config in view.columns
        ]
    seen: set[str] = set()
    columns = []
    for output, parent, column_name in wanted:
        if output in RESERVED_OUTPUT:
            raise ViewError(
                f"view {view.name}: a column may not be called {output!r} (orgfeed adds id and geo): use `as`"
            )
        if output in seen:
            raise ViewError(f"view {view.name}: two columns are called {output!r}: give one an alias with `as`")
        seen.add(output)
        sources = []
        for base_columns, parents in tables:
            alias, table_columns = (base_table, base_columns) if parent is None else parents[parent]
            found = next((column for column in table_columns if column.name == column_name), None)
            sources.append(Source(alias, column_name, found.sql_type) if found else Source(None, None, None))
        types = [source.sql_type for source in sources if source.sql_type]
        field = f"{parent}.{column_name}" if parent else column_name
        if not types:
            raise ViewError(
                f"view {view.name}: column {field} exists in none of its orgs: map the field or drop the column"
            )
        columns.append(ViewColumn(name=output, sql_type=common_type(types), field=field, sources=tuple(sources)))
    return columns


NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")
VARCHAR = re.compile(r"^character varying\((\d+)\)$")
INTEGERS = {"smallint": 5, "integer": 10, "bigint": 19}


def common_type(types: list[str]) -> str:
    """One type every value of `types` fits: the widest varchar, the widest numeric, else text."""
    distinct = list(dict.fromkeys(types))
    if len(distinct) == 1:
        return distinct[0]
    if all(VARCHAR.match(t) or t in ("text", "character varying") for t in distinct):
        lengths = [int(match.group(1)) for t in distinct if (match := VARCHAR.match(t))]
        return f"character varying({max(lengths)})" if len(lengths) == len(distinct) else "text"
    if all(NUMERIC.match(t) or t in INTEGERS or t == "numeric" for t in distinct):
        if "numeric" in distinct:
            return "numeric"
        integer_digits, scale = 0, 0
        for t in distinct:
            match = NUMERIC.match(t)
            precision, digits_after = (int(match.group(1)), int(match.group(2))) if match else (INTEGERS[t], 0)
            integer_digits = max(integer_digits, precision - digits_after)
            scale = max(scale, digits_after)
        if all(t in INTEGERS for t in distinct):
            return max(distinct, key=INTEGERS.__getitem__)
        return f"numeric({min(integer_digits + scale, 1000)},{scale})"
    if set(distinct) <= {"timestamp with time zone", "timestamp without time zone"}:
        return "timestamp with time zone"
    return "text"
