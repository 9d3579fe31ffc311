"""Server-driven paging: page sizes, keyset `$skiptoken`s and the absolute `@odata.nextLink`.

A skiptoken carries the last row's sort values (the $orderby columns, then the key) and how
many rows earlier pages delivered, so the next page is `where (sort values) > (last) ... limit n`
(never an OFFSET) and paging stops once `$top` rows have gone out. It is not secret (it holds
values the client already received) and is checked on decoding: a bad one is a 400.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from app.odata import BadQuery

MAX_PAGE_SIZE = 2000  # Salesforce Connect: "each page can't exceed 2,000 rows"
_MAXPAGESIZE = re.compile(r"^(?:odata\.)?maxpagesize\s*=\s*\"?(-?\d+)\"?$", re.IGNORECASE)


@dataclass(frozen=True)
class Position:
    last: list[Any]  # sort values of the last row delivered
    delivered: int  # rows delivered by earlier pages


def preferred_page_size(prefer_headers: Sequence[str]) -> int | None:
    """The `odata.maxpagesize` (or `maxpagesize`) preference, clamped to [1, MAX_PAGE_SIZE]; None if absent or unusable.

    A zero, negative or bare value is ignored rather than switching paging off (OData/WebApi#2905).
    """
    for header in prefer_headers:
        for preference in header.split(","):
            match = _MAXPAGESIZE.match(preference.strip())
            if match:
                size = int(match.group(1))
                if size >= 1:
                    return min(size, MAX_PAGE_SIZE)
    return None


def encode_skiptoken(position: Position) -> str:
    """`position` as URL-safe text."""
    payload = orjson.dumps({"v": [_tag(value) for value in position.last], "n": position.delivered})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_skiptoken(token: str) -> Position:
    """The position a skiptoken names; BadQuery when it is not one this service made."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        values = [_untag(item) for item in payload["v"]]
        delivered = payload["n"]
        if not isinstance(delivered, int) or isinstance(delivered, bool) or delivered < 0 or not values:
            raise ValueError("bad count")
        return Position(values, delivered)
    except (ValueError, TypeError, KeyError, InvalidOperation, orjson.JSONDecodeError):
        raise BadQuery(
            "$skiptoken is not valid: use the @odata.nextLink of an earlier page", target="$skiptoken"
        ) from None


def _tag(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return ["f", repr(value)]
    if isinstance(value, Decimal):
        return ["d", str(value)]
    if isinstance(value, datetime):
        return ["T", value.isoformat()]
    if isinstance(value, date):
        return ["D", value.isoformat()]
    if isinstance(value, time):
        return ["t", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    if isinstance(value, (bytes, memoryview)):
        return ["b", base64.b64encode(bytes(value)).decode()]
    return str(value)


_UNTAG: dict[str, Callable[[str], Any]] = {
    "f": float,
    "d": Decimal,
    "T": datetime.fromisoformat,
    "D": date.fromisoformat,
    "t": time.fromisoformat,
    "u": uuid.UUID,
    "b": base64.b64decode,
}


def _untag(item: Any) -> Any:
    if item is None or isinstance(item, (bool, str, int)):
        return item
    if isinstance(item, list) and len(item) == 2 and item[0] in _UNTAG and isinstance(item[1], str):
        return _UNTAG[item[0]](item[1])
    raise ValueError("unknown value")


def next_link(base_url: str, pairs: Sequence[tuple[str, str]], token: str) -> str:
    """The absolute URL of the next page: every original option (as the client encoded it) plus `$skiptoken`."""
    parts = [part for _, part in pairs] + [f"$skiptoken={token}"]
    return f"{base_url}?{'&'.join(parts)}"
