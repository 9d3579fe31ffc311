"""JSON payloads: rows from psycopg tuples to OData JSON bytes with orjson, values shaped by Edm type.

Values are converted by psycopg loaders registered on the cursor (one call per value only for
numeric, float and bytea columns), so rows reach orjson as tuples of ready values:
numbers as JSON numbers (Int64 and Decimal as strings when the client asked for
IEEE754Compatible=true), dates `YYYY-MM-DD`, timestamps in UTC with `Z`, binary as base64url,
`NaN`/`INF`/`-INF` as strings (OData JSON Format §7.1).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import orjson
import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader

from app.odata.catalog import Column

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
CHUNK_ROWS = 500  # rows per fetchmany() and per piece of a streamed body


class _NumericLoader(Loader):
    """numeric -> the digits PostgreSQL sent, embedded verbatim in the JSON (no float rounding)."""

    def load(self, data: Buffer) -> str | orjson.Fragment:
        text = bytes(data)
        if text in (b"NaN", b"Infinity", b"-Infinity"):
            return {b"NaN": "NaN", b"Infinity": "INF", b"-Infinity": "-INF"}[text]
        return orjson.Fragment(text)


class _NumericStringLoader(Loader):
    def load(self, data: Buffer) -> str:
        text = bytes(data).decode()
        return {"Infinity": "INF", "-Infinity": "-INF"}.get(text, text)


class _Int8StringLoader(Loader):
    def load(self, data: Buffer) -> str:
        return bytes(data).decode()


class _FloatLoader(Loader):
    def load(self, data: Buffer) -> str | float:
        value = float(bytes(data))
        if math.isnan(value):
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "INF" if value > 0 else "-INF"
        return value


class _ByteaLoader(Loader):
    def load(self, data: Buffer) -> str:
        # bytea's text form is \x followed by hex digits (bytea_output = hex, the default).
        return base64.urlsafe_b64encode(bytes.fromhex(bytes(data)[2:].decode())).decode()


def register_loaders(cursor: psycopg.Cursor, *, ieee754: bool) -> None:
    """Makes `cursor` load values in their OData JSON shape."""
    cursor.adapters.register_loader("numeric", _NumericStringLoader if ieee754 else _NumericLoader)
    if ieee754:
        cursor.adapters.register_loader("int8", _Int8StringLoader)
    cursor.adapters.register_loader("float4", _FloatLoader)
    cursor.adapters.register_loader("float8", _FloatLoader)
    cursor.adapters.register_loader("bytea", _ByteaLoader)


def encode_entity(context: str, columns: Sequence[Column], row: Sequence) -> bytes:
    """One entity as a JSON object with its `@odata.context`."""
    entity = {"@odata.context": context}
    entity.update(zip((column.property for column in columns), row))
    return orjson.dumps(entity, option=JSON_OPTIONS)


def iter_collection(
    head: dict, columns: Sequence[Column], chunks: Iterable[Sequence[Sequence]], tail: Callable[[], dict]
) -> Iterator[bytes]:
    """A collection payload in chunks: `head` members, `"value": [...]` (one piece per chunk of rows), then the
    members `tail()` returns once the rows are out (a nextLink may follow its collection: OData JSON Format §4.5)."""
    names = [column.property for column in columns]
    opening = orjson.dumps(head, option=JSON_OPTIONS)[:-1]
    yield opening + (b',"value":[' if head else b'"value":[')
    separator = b""
    for chunk in chunks:
        if chunk:
            yield separator + orjson.dumps([dict(zip(names, row)) for row in chunk], option=JSON_OPTIONS)[1:-1]
            separator = b","
    members = tail()
    yield b"]" + (b"," + orjson.dumps(members, option=JSON_OPTIONS)[1:] if members else b"}")
