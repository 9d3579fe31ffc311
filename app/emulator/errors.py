"""Errors the emulator answers with: Salesforce's REST error JSON, Bulk API 1.0 errors and the OAuth token errors."""

from __future__ import annotations

import secrets
from collections.abc import Sequence


class EmulatorError(Exception):
    """Base class of the emulator's errors."""


class SalesforceError(EmulatorError):
    """A REST API error: an HTTP status and a body `[{"message", "errorCode", "fields"?}]`.

    The shape follows the REST API Developer Guide, "Status Codes and Error Responses".
    """

    def __init__(self, status: int, error_code: str, message: str, fields: Sequence[str] | None = None) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = tuple(fields) if fields is not None else None

    def body(self) -> list[dict[str, object]]:
        """Return the JSON body Salesforce sends for this error."""
        entry: dict[str, object] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = list(self.fields)
        return [entry]


class OAuthError(EmulatorError):
    """A token endpoint error: `{"error": ..., "error_description": ...}` (400 unless said)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class AsyncApiError(EmulatorError):
    """A Bulk API 1.0 error: an HTTP status, an exceptionCode and an exceptionMessage.

    Bulk API Developer Guide, "Errors"; the body is XML or JSON (dataload.error_document).
    """

    def __init__(self, status: int, exception_code: str, message: str) -> None:
        super().__init__(f"{status} {exception_code}: {message}")
        self.status = status
        self.exception_code = exception_code
        self.message = message


class ControlError(EmulatorError):
    """A control API request the emulator cannot carry out (unknown org, object, field, ...)."""


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> SalesforceError:
    return SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def unknown_exception() -> SalesforceError:
    """Return the 500 Salesforce answers when it fails internally (its message carries an ErrorId)."""
    error_id = f"{secrets.randbelow(10**10)}-{secrets.randbelow(10**5)} ({-secrets.randbelow(2**31)})"
    return SalesforceError(
        500,
        "UNKNOWN_EXCEPTION",
        f"An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}",
    )


def request_limit_exceeded() -> SalesforceError:
    return SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
