"""Field policies applied before rows reach PostgreSQL: `hash` stores a keyed HMAC-SHA256, `redact` stores null.

Rows arrive as CSV documents whose header names Salesforce fields; `protect_csv` rewrites the cells
of the fields a policy names while the document streams, so the clear value is never sent to the
database (not even to a staging table). The same value hashes the same in every org that shares the
key, so views can still match people across orgs. Email values are lower-cased and trimmed first.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import hmac
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from app.warehouse import WarehouseError

HASHED_TYPE = "varchar(64)"  # the hex digest of HMAC-SHA256
ROWS_PER_CHUNK = 2000  # rewritten rows gathered into one chunk for COPY


@dataclass(frozen=True)
class FieldPolicy:
    """Which fields of one mapping are hashed or redacted (Salesforce names, compared case-insensitively)."""

    hashed: frozenset[str] = frozenset()
    redacted: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()  # hashed fields whose values are email addresses
    key: bytes = b""

    @classmethod
    def build(
        cls, hashed: Iterable[str], redacted: Iterable[str], *, field_types: Mapping[str, str], key: str | None
    ) -> FieldPolicy:
        """The policy for fields named in any case; `field_types` maps field names to describe's types."""
        types = {name.lower(): kind for name, kind in field_types.items()}
        hashed_names = frozenset(name.lower() for name in hashed)
        if hashed_names and not key:
            raise ValueError("a hash policy needs a key")
        return cls(
            hashed=hashed_names,
            redacted=frozenset(name.lower() for name in redacted),
            emails=frozenset(name for name in hashed_names if types.get(name) == "email"),
            key=(key or "").encode(),
        )

    @property
    def is_empty(self) -> bool:
        return not self.hashed and not self.redacted

    def applies_to(self, field: str) -> str | None:
        """ "hash", "redact" or None for the Salesforce field `field`."""
        name = field.lower()
        if name in self.hashed:
            return "hash"
        if name in self.redacted:
            return "redact"
        return None

    def fingerprint(self) -> str:
        """A text that changes when the policy or its key does (the key itself cannot be recovered from it)."""
        if self.is_empty:
            return ""
        key_id = hmac.new(self.key, b"orgfeed field policy key", hashlib.sha256).hexdigest()[:12] if self.hashed else ""
        parts = [f"hash={','.join(sorted(self.hashed))}", f"redact={','.join(sorted(self.redacted))}"]
        return ";".join([*parts, f"key={key_id}"])

    def protect_value(self, field: str, value: str | None) -> str | None:
        """The value to store for `field`: the hex HMAC, None (redacted or null), or the value itself."""
        action = self.applies_to(field)
        if action is None or value is None or value == "":
            return value
        if action == "redact":
            return None
        if field.lower() in self.emails:
            value = value.strip().lower()
        return hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()

    def protect_csv(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """`chunks` of a CSV document (header first) with the policy's cells rewritten; unchanged when it is empty."""
        if self.is_empty:
            yield from chunks
            return
        reader = csv.reader(_text_lines(chunks))
        header = next(reader, None)
        if header is None:
            return
        actions = [(index, name) for index, name in enumerate(header) if self.applies_to(name)]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        for count, row in enumerate(reader, start=1):
            for index, name in actions:
                if index < len(row):
                    row[index] = self.protect_value(name, row[index]) or ""
            writer.writerow(row)
            if count % ROWS_PER_CHUNK == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode()


def mapping_policy(
    hashed: Iterable[str], redacted: Iterable[str], field_types: Mapping[str, str], key: str | None, *, where: str
) -> FieldPolicy:
    """The policy of one mapping over the fields it selects (`field_types`: name -> describe type).

    Raises WarehouseError, naming `where` (e.g. "org 'amer', object Contact"), when a policy names a
    field the mapping does not select: its clear value would otherwise be mirrored unnoticed later.
    """
    selected = {name.lower() for name in field_types}
    unknown = [name for name in (*hashed, *redacted) if name.lower() not in selected]
    if unknown:
        raise WarehouseError(
            f"{where}: the field policy names {', '.join(unknown)}, which the mapping does not select "
            "(not in its fields, or not in the describe): fix `hash`/`redact` in orgfeed.toml"
        )
    if hashed and not key:
        raise WarehouseError(
            f"{where}: the mapping hashes fields but no hash key is set: set the environment variable "
            "that `[sync] hash_key_env` names (ORGFEED_HASH_KEY by default)"
        )
    return FieldPolicy.build(hashed, redacted, field_types=field_types, key=key)


def policy_comment(action: str) -> str:
    """The column comment that says which policy a column is stored under."""
    if action == "hash":
        return "field policy: hash (hex HMAC-SHA256 of the value, keyed by the deployment's hash key)"
    return "field policy: redact (always null: the value is not mirrored)"


def _text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of a UTF-8 byte stream, each with its newline (csv joins quoted multi-line cells itself)."""
    pending = b""
    first = True
    for chunk in chunks:
        if first and chunk:
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
            first = False
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode() + "\n"
    if pending:
        yield pending.decode()
