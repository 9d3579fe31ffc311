"""SOQL text to tokens, and the errors that point into that text as Salesforce's messages do.

Rules cite pages of Salesforce's SOQL and SOSL Reference, under
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/ (named by page file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

MALFORMED_QUERY = "MALFORMED_QUERY"
# Valid SOQL that the emulator refuses, so that orgfeed's loader cannot come to depend on it.
UNSUPPORTED_WORDS = {
    "GROUP": "GROUP BY",
    "HAVING": "HAVING",
    "WITH": "WITH",
    "FOR": "FOR VIEW/REFERENCE/UPDATE",
    "UPDATE": "UPDATE TRACKING/VIEWSTAT",
    "USING": "USING SCOPE",
    "TYPEOF": "TYPEOF",
    "LIKE": "LIKE",
    "INCLUDES": "INCLUDES",
    "EXCLUDES": "EXCLUDES",
    "ALL": "ALL ROWS",
}
# sforce_api_calls_soql_select_quotedstringescapes.htm. The table calls \b "Bell"; the escape is
# Java's backspace (U+0008), as the Japanese edition of the page says (バックスペース).
STRING_ESCAPES = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
# Salesforce does not document which part of the query its error messages quote. Messages quoted
# in public code show short queries whole and long ones as a window of about four tokens each side.
WHOLE_ROW_LENGTH = 100
WINDOW_TOKENS = 4

TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]*(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::\d+)?)
  | (?P<quote>')
  | (?P<symbol><=|>=|!=|<>|[=<>(),])
    """,
    re.VERBOSE | re.ASCII,
)
# sforce_api_calls_soql_select_dateformats.htm: YYYY-MM-DDThh:mm:ss(Z|+hh:mm|-hh:mm). The page points to
# the W3C XML Schema dateTime for the format, which allows a fraction of a second of any length after the
# seconds ('.' s+), as in the REST API's yyyy-MM-ddTHH:mm:ss.SSS (intro_valid_date_formats.htm) and the
# six digits extractors write (2024-12-26T22:28:00.000000Z). Digits past microseconds are dropped.
DATETIME_PATTERN = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


class SoqlError(Exception):
    """A query Salesforce would refuse, with the errorCode and message of its JSON error body."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


TokenValue = str | int | Decimal | date | datetime | None  # a string, number, date or dateTime literal's


@dataclass(frozen=True)
class Token:
    """One lexical token: kind, text as written, parsed value and offset in the query."""

    kind: str
    text: str
    value: TokenValue
    at: int


def build_error(text: str, at: int, detail: str, error_code: str = MALFORMED_QUERY) -> SoqlError:
    """Return a SoqlError whose message has Salesforce's snippet, caret and ERROR at Row:Column."""
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    line_end = len(text) if line_end == -1 else line_end
    snippet_start, snippet_end = select_snippet(text, at, line_start, line_end)
    row = text.count("\n", 0, at) + 1
    column = at - line_start + 1
    caret = " " * (at - snippet_start) + "^"
    message = f"\n{text[snippet_start:snippet_end]}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}"
    return SoqlError(error_code, message)


def select_snippet(text: str, at: int, line_start: int, line_end: int) -> tuple[int, int]:
    """Return the span of the row around `at` that an error message quotes."""
    if line_end - line_start <= WHOLE_ROW_LENGTH:
        return line_start, line_end
    # Never scan_tokens here: it raises the very errors whose message this builds.
    spans = token_spans(text, line_start, line_end)
    if not spans:
        return line_start, line_end
    index = next((i for i, (start, _) in enumerate(spans) if start >= at), len(spans) - 1)
    first = spans[max(index - WINDOW_TOKENS, 0)]
    last = spans[min(index + WINDOW_TOKENS, len(spans) - 1)]
    return min(first[0], at), max(last[1], at + 1)


def token_spans(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    """Return (start, end) of each token of text[start:stop]; a stray character or an open string is one too."""
    spans: list[tuple[int, int]] = []
    at = start
    while at < stop:
        match = TOKEN_PATTERN.match(text, at, stop)
        if match is None:
            end = at + 1
        elif match.lastgroup == "quote":
            end = string_end(text, at, stop)
        elif match.lastgroup == "space":
            at = match.end()
            continue
        else:
            end = match.end()
        spans.append((at, end))
        at = end
    return spans


def string_end(text: str, start: int, stop: int) -> int:
    """Return the offset past the quote closing the string opening at `start` (`stop` if none does)."""
    at = start + 1
    while at < stop:
        if text[at] == "\\":
            at += 2
        elif text[at] == "'":
            return at + 1
        else:
            at += 1
    return stop


def build_unexpected_error(text: str, token: Token) -> SoqlError:
    """Return MALFORMED_QUERY naming `token`, saying so when it starts valid SOQL the emulator refuses."""
    detail = f"unexpected token: '{token.text}'"
    feature = UNSUPPORTED_WORDS.get(token.text.upper()) if token.kind == "name" else None
    if feature:
        detail += f" ({feature} is not supported by the orgfeed emulator)"
    return build_error(text, token.at, detail)


def build_unsupported_error(text: str, token: Token, feature: str) -> SoqlError:
    """Return MALFORMED_QUERY naming `token` as the start of a SOQL feature the emulator refuses."""
    return build_error(
        text, token.at, f"unexpected token: '{token.text}' ({feature} not supported by the orgfeed emulator)"
    )


def scan_tokens(text: str) -> list[Token]:
    """Return the tokens of `text`, ending with an `end` token; raises SoqlError on a stray character."""
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        match = TOKEN_PATTERN.match(text, at)
        if match is None:
            # The shape of Salesforce's lexer errors: "line 1:34 no viable alternative at character '$'".
            column = at - (text.rfind("\n", 0, at) + 1)
            row = text.count("\n", 0, at) + 1
            raise build_error(text, at, f"line {row}:{column} no viable alternative at character '{text[at]}'")
        kind = match.lastgroup or ""
        if kind == "quote":
            token = scan_string(text, at)
        elif kind == "space":
            at = match.end()
            continue
        else:
            token = Token(kind, match.group(), read_value(text, kind, match.group(), at), at)
        tokens.append(token)
        at = token.at + len(token.text)
    tokens.append(Token("end", "<EOF>", None, len(text)))
    return tokens


def scan_string(text: str, start: int) -> Token:
    """Return the string token opening at `start`, its escapes decoded."""
    chars: list[str] = []
    at = start + 1
    while at < len(text):
        char = text[at]
        if char == "'":
            return Token("string", text[start : at + 1], "".join(chars), start)
        if char != "\\":
            chars.append(char)
            at += 1
            continue
        sequence = text[at : at + 2]
        if sequence[1:] == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[at + 2 : at + 6]):
            chars.append(chr(int(text[at + 2 : at + 6], 16)))
            at += 6
        elif sequence[1:] in STRING_ESCAPES:
            chars.append(STRING_ESCAPES[sequence[1:]])
            at += 2
        else:
            # "If you use a backslash character in any other context, an error occurs."
            end = text.find("'", at + 2)
            literal = text[start : len(text) if end == -1 else end + 1]
            detail = f"Invalid string literal {literal}. Illegal character sequence '{sequence}' in string literal."
            raise build_error(text, start, detail)
    row = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1)
    raise build_error(text, len(text), f"line {row}:{column} mismatched character '<EOF>' expecting '''")


def read_value(text: str, kind: str, raw: str, at: int) -> TokenValue:
    """Return the Python value of a number, date or datetime token (None for other kinds)."""
    if kind == "number":
        return Decimal(raw) if "." in raw else int(raw)
    try:
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "datetime":
            return read_datetime(raw)
    except ValueError:
        raise build_error(text, at, f"unexpected token: '{raw}'") from None
    return None


def read_datetime(raw: str) -> datetime:
    """Return the timezone-aware datetime a SOQL dateTime literal names; raises ValueError if malformed."""
    match = DATETIME_PATTERN.fullmatch(raw)
    if match is None:
        raise ValueError(raw)
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    if match.group(8):
        zone = UTC
    else:
        sign = -1 if match.group(9) == "-" else 1
        zone = timezone(sign * timedelta(hours=int(match.group(10)), minutes=int(match.group(11))))
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=zone)
