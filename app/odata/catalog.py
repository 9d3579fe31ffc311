"""Entity sets read from PostgreSQL's catalog: one per view, its columns with Edm types and facets.

The one place a PostgreSQL type becomes an Edm type (`EDM_TYPES`), and a view or column name
becomes a name Salesforce accepts as an API name (`api_name`).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.odata import BadQuery
from app.warehouse.identifiers import quote_identifier

if TYPE_CHECKING:
    import psycopg

KEY = "id"
VIEW_SCHEMA = "public"

# PostgreSQL type name -> (Edm type, kind used by the filter compiler and the payload writer).
# Salesforce Connect syncs only these Edm types (Salesforce help "OData 4.0 and 4.01 Type Mapping");
# anything else (json, arrays, intervals, geometry...) is served as its text form in an Edm.String.
EDM_TYPES: dict[str, tuple[str, str]] = {
    "int2": ("Edm.Int16", "int"),
    "int4": ("Edm.Int32", "int"),
    "int8": ("Edm.Int64", "int"),
    "numeric": ("Edm.Decimal", "decimal"),
    "float4": ("Edm.Single", "double"),
    "float8": ("Edm.Double", "double"),
    "bool": ("Edm.Boolean", "bool"),
    "text": ("Edm.String", "string"),
    "varchar": ("Edm.String", "string"),
    "bpchar": ("Edm.String", "string"),
    "name": ("Edm.String", "string"),
    "citext": ("Edm.String", "string"),
    "date": ("Edm.Date", "date"),
    "timestamptz": ("Edm.DateTimeOffset", "datetime"),
    "timestamp": ("Edm.DateTimeOffset", "datetime"),
    "time": ("Edm.TimeOfDay", "time"),
    "uuid": ("Edm.Guid", "guid"),
    "bytea": ("Edm.Binary", "binary"),
}
# Salesforce Connect keeps Edm.Decimal to 18 digits; wider numerics are declared at 18.
MAX_DECIMAL_PRECISION = 18
# A text column has no length: a String without MaxLength becomes Text(128) in Salesforce, so declare
# one. The key and geo become Text(255) (filterable); other text columns LongTextArea's maximum.
KEY_TEXT_LENGTH = 255
API_NAME_LENGTH = 40  # Salesforce field and object names (before the __c / __x suffix)
TEXT_LENGTH = 131072


@dataclass(frozen=True)
class Column:
    name: str  # the view's column
    property: str  # the Edm property name
    pg_type: str
    edm_type: str
    kind: str
    max_length: int | None = None
    precision: int | None = None
    scale: int | str | None = None  # an int, or "variable"
    nullable: bool = True

    @builtins.property  # the field above named `property` shadows the builtin in this class body
    def sql(self) -> str:
        """The column as SQL text: quoted, cast to text when the feed serves it as a string it does not know."""
        quoted = quote_identifier(self.name)
        return quoted if self.pg_type in EDM_TYPES else f"{quoted}::text"


@dataclass(frozen=True)
class EntitySet:
    name: str  # the Edm entity set (and entity type) name
    view: str
    columns: tuple[Column, ...]
    schema: str = VIEW_SCHEMA  # a scoped feed reads its own schema's views

    @property
    def key(self) -> Column:
        return next(column for column in self.columns if column.name == KEY)

    @property
    def sql_name(self) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.view)}"

    def column(self, name: str, *, target: str) -> Column:
        """The column whose property is `name`, exactly or else case-insensitively (4.01); BadQuery otherwise."""
        for column in self.columns:
            if column.property == name:
                return column
        matches = [column for column in self.columns if column.property.lower() == name.lower()]
        if len(matches) == 1:
            return matches[0]
        raise BadQuery(f"{target}: {self.name} has no property {name!r}", target=target)


def api_name(name: str, suffix: str = "") -> str:
    """`name` as a Salesforce API name: letters, digits and single underscores, starting with a letter, at most
    API_NAME_LENGTH characters including `suffix` (used to tell apart names that would collide).

    `wellness__c` becomes `wellness_c`, `2fa` becomes `x2fa`. Salesforce appends `__c`/`__x` itself.
    """
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "x" + cleaned
    return cleaned[: API_NAME_LENGTH - len(suffix)].rstrip("_") + suffix


CATALOG_SQL = """
select c.relname, a.attname, coalesce(b.typname, t.typname),
       case when t.typtype = 'd' then t.typtypmod else a.atttypmod end, a.attnotnull
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
join pg_catalog.pg_type t on t.oid = a.atttypid
left join pg_catalog.pg_type b on t.typtype = 'd' and b.oid = t.typbasetype
where n.nspname = %s and c.relname = any(%s) and c.relkind in ('v', 'm', 'r', 'p', 'f')
order by c.relname, a.attnum
"""


def read_entity_sets(
    pg_conn: psycopg.Connection, views: Sequence[str], schema: str = VIEW_SCHEMA
) -> tuple[EntitySet, ...]:
    """The entity sets for `views` of `schema` that exist and have an `id` column, in the order given.

    `pg_conn` is a psycopg connection. A view that does not exist (yet) is left out, not an error.
    """
    return entity_sets_from(pg_conn.execute(CATALOG_SQL, catalog_params(views, schema)).fetchall(), views, schema)


def catalog_params(views: Sequence[str], schema: str = VIEW_SCHEMA) -> tuple:
    """The parameters of CATALOG_SQL for `views` of `schema`."""
    return (schema, list(views))


def entity_sets_from(
    catalog_rows: Iterable[tuple], views: Sequence[str], schema: str = VIEW_SCHEMA
) -> tuple[EntitySet, ...]:
    """The entity sets of `views` from CATALOG_SQL's rows (see read_entity_sets)."""
    rows: dict[str, list[tuple]] = {}
    for relname, attname, typname, typmod, notnull in catalog_rows:
        rows.setdefault(relname, []).append((attname, typname, typmod, notnull))
    sets = []
    for view in views:
        if view in rows and any(attname == KEY for attname, *_ in rows[view]):
            sets.append(EntitySet(api_name(view), view, tuple(_columns(rows[view])), schema))
    return tuple(_unique_set_names(sets))


def _columns(rows: Iterable[tuple]) -> Iterable[Column]:
    taken: set[str] = set()
    for attname, typname, typmod, notnull in rows:
        prop, number = api_name(attname), 2
        while prop.lower() in taken:
            prop, number = api_name(attname, f"_{number}"), number + 1
        taken.add(prop.lower())
        yield column_for(attname, prop, typname, typmod, notnull or attname == KEY)


def column_for(name: str, prop: str, typname: str, typmod: int, notnull: bool) -> Column:
    """The Column for a catalog entry: Edm type and the facets MaxLength, Precision and Scale from the typmod."""
    edm_type, kind = EDM_TYPES.get(typname, ("Edm.String", "string"))
    max_length: int | None = None
    precision: int | None = None
    scale: int | str | None = None
    if edm_type == "Edm.String":
        if typname in ("varchar", "bpchar") and typmod > 4:
            max_length = typmod - 4
        elif name in (KEY, "geo"):
            max_length = KEY_TEXT_LENGTH
        else:
            max_length = TEXT_LENGTH
    elif typname == "numeric":
        if typmod > 4:
            precision = min(((typmod - 4) >> 16) & 0xFFFF, MAX_DECIMAL_PRECISION)
            scale = min((typmod - 4) & 0xFFFF, precision)
        else:
            precision, scale = MAX_DECIMAL_PRECISION, "variable"
    elif typname in ("timestamptz", "timestamp", "time"):
        precision = typmod if typmod >= 0 else 6
    return Column(
        name=name,
        property=prop,
        pg_type=typname,
        edm_type=edm_type,
        kind=kind,
        max_length=max_length,
        precision=precision,
        scale=scale,
        nullable=not notnull,
    )


def _unique_set_names(sets: list[EntitySet]) -> Iterable[EntitySet]:
    taken: set[str] = set()
    for entity_set in sets:
        name, number = entity_set.name, 2
        while name.lower() in taken:
            name, number = api_name(entity_set.view, f"_{number}"), number + 1
        taken.add(name.lower())
        yield EntitySet(name, entity_set.view, entity_set.columns, entity_set.schema)


def find_entity_set(sets: Sequence[EntitySet], name: str) -> EntitySet | None:
    """The entity set called `name`, exactly or else case-insensitively; None when there is none."""
    for entity_set in sets:
        if entity_set.name == name:
            return entity_set
    matches = [entity_set for entity_set in sets if entity_set.name.lower() == name.lower()]
    return matches[0] if len(matches) == 1 else None
