"""The kinds of value orgfeed.toml's keys hold, and `Table`, the base of every model of one of its tables.

Each kind is an annotated type: pydantic checks its TOML type strictly (true is not 1, a string is not a
path) and the validators here check the rest, raising `problem(...)` with the text a user reads. TOML
arrays arrive as lists and become tuples here, so records stay hashable and immutable.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo
from pydantic_core import PydanticCustomError, PydanticKnownError

# The error type of every problem orgfeed words itself; app.config.problems shows its message as it is.
PROBLEM = "orgfeed"

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED_SCHEMAS = frozenset({"orgfeed", "public", "information_schema"})


class Table(BaseModel):
    """A table of orgfeed.toml: strict types, unknown keys refused, frozen once read.

    Subclasses may override the two texts below, which `app.config.problems` uses when a key is
    missing, or present but meant for another kind of table of the same section.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @classmethod
    def missing_key_text(cls, key: str) -> str:
        """What a `missing:` problem says about `key`: its description."""
        return cls.model_fields[key].description or "this key is required"

    @classmethod
    def unused_key_text(cls) -> str:
        """Why a key that other tables of this section take does not belong in this one."""
        return "not used in this kind of table"


def problem(message: str) -> PydanticCustomError:
    """A validation error whose message is the line a user reads (no placeholders are filled in)."""
    return PydanticCustomError(PROBLEM, message)


def kind_of(value: Any) -> str:
    """The TOML kind of `value` as a message says it: "a string", "an array", ..."""
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        tuple: "an array",
        dict: "a table",
        datetime.datetime: "a date-time",
        datetime.date: "a date",
        datetime.time: "a time",
    }.get(type(value), type(value).__name__)


def describe_value(value: Any) -> str:
    """`value` with its kind, as in "got a string 'four'"."""
    return f"{kind_of(value)} {value!r}"


def _array_of(what: str) -> Callable[[Any], Any]:
    def tuple_from_array(value: Any) -> Any:
        if isinstance(value, list):
            return tuple(value)
        if isinstance(value, tuple):
            return value
        raise problem(f"must be an array of {what}, got {describe_value(value)}")

    return tuple_from_array


def _star_or_array(value: Any) -> Any:
    """None for "*"; an array becomes a tuple; anything else is a problem."""
    if value is None or value == "*":
        return None
    if isinstance(value, str):
        raise problem(f'must be "*" or a list of names, got the string {value!r}')
    if not isinstance(value, list | tuple):
        raise problem(f'must be an array of strings or "*", got {describe_value(value)}')
    if not value:
        raise problem('is empty: list at least one name, or "*" for all')
    return tuple(value)


Item = TypeVar("Item")
# An array of strings, each checked as Item, e.g. orgs = ["amer", "emea"].
StringArray = Annotated[tuple[Item, ...], BeforeValidator(_array_of("strings"))]
Names = StringArray[str]
# An array of tables, e.g. joins = [{ lookup = "AccountId", object = "Account" }].
TableArray = Annotated[tuple[Item, ...], BeforeValidator(_array_of("tables"))]
# "*", read as None (every one), or a non-empty array, e.g. fields = ["Name", "Phone"].
StarOr = Annotated[tuple[Item, ...] | None, BeforeValidator(_star_or_array)]


def _schema_name(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise problem(
            f"{name!r} is not a valid schema name: use lower-case letters, digits and underscores, "
            "starting with a letter or underscore, at most 63 characters"
        )
    if name in RESERVED_SCHEMAS or name.startswith("pg_"):
        raise problem(f"{name!r} is reserved: orgfeed or PostgreSQL uses that schema; pick another")
    return name


def _view_name(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise problem(f"{name!r} is not a valid view name: use lower-case letters, digits and underscores")
    return name


def _feed_name(name: str) -> str:
    if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", name):
        raise problem(f"{name!r} is not a valid feed name: lower-case letters, digits, '-' and '_'")
    return name


def _alias(alias: str) -> str:
    if not IDENTIFIER.match(alias):
        raise problem(f"alias {alias!r} must be a lower-case identifier")
    return alias


def _http_url(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise problem(f"must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _path_from_text(value: Any) -> Any:
    if isinstance(value, str):
        return Path(value).expanduser()
    if isinstance(value, Path):
        return value
    raise PydanticKnownError("string_type")


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise problem(f"file {str(path)!r} does not exist")
    return path


def _variable_name(variable: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", variable):
        raise problem(f"{variable!r} is not an environment variable name")
    return variable


# A lower-case PostgreSQL identifier orgfeed does not use itself.
SchemaName = Annotated[str, AfterValidator(_schema_name)]
ViewName = Annotated[str, AfterValidator(_view_name)]
FeedName = Annotated[str, AfterValidator(_feed_name)]
Alias = Annotated[str, AfterValidator(_alias)]
# An http(s) URL, without a trailing "/".
Url = Annotated[str, AfterValidator(_http_url)]
# A path (written as a string, "~" expanded) to a file that exists.
ExistingFile = Annotated[Path, BeforeValidator(_path_from_text), AfterValidator(_existing_file)]
# The name of an environment variable.
VariableName = Annotated[str, AfterValidator(_variable_name)]


def _defined(section: str, what: str) -> Callable[[str, ValidationInfo], str]:
    def defined(name: str, info: ValidationInfo) -> str:
        names = (info.context or {}).get(section)
        if names is not None and name not in names:
            raise problem(f"names {what} {name!r}, which is not defined in [[{section}]]")
        return name

    return defined


def _loaded_org(name: str, info: ValidationInfo) -> str:
    if name in (info.context or {}).get("heroku_connect", ()):
        raise problem(f"names org {name!r}, which Heroku Connect fills: orgfeed does not load it")
    return name


# Names of tables in other sections. Validated with the document's names in the context
# ({"orgs": ..., "heroku_connect": ..., "views": ...}), each must name one; without them any name passes.
DefinedOrg = Annotated[str, AfterValidator(_defined("orgs", "org"))]
LoadedOrg = Annotated[DefinedOrg, AfterValidator(_loaded_org)]
DefinedView = Annotated[str, AfterValidator(_defined("views", "view"))]


def _known_geo(geo: str, info: ValidationInfo) -> str:
    geos = (info.context or {}).get("geos")
    if geos is not None and geo not in geos:
        raise problem(f"names geo {geo!r}, which no org has (geos: {', '.join(sorted(geos)) or 'none'})")
    return geo


# A geo of one of the document's orgs (from the context's "geos"; without them any geo passes).
KnownGeo = Annotated[str, AfterValidator(_known_geo)]
