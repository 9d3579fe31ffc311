"""The Salesforce side: OAuth token requests, clients, describe, SOQL text, REST and Bulk API 2.0 extraction.

It may import simple-salesforce, requests, PyJWT, grpcio, fastavro, `app.eventbus` (the Pub/Sub API stubs)
and `app.config`'s settings types.
It must not import `app.warehouse`, `app.odata` or `app.emulator`: it knows nothing of
PostgreSQL; `app.sync` joins the two sides.
"""


class SalesforceError(Exception):
    """A Salesforce problem a user can act on; the message names the org and what to check."""

    def __init__(self, message: str, *, error_code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class LoginFailed(SalesforceError):
    """The token request was refused: wrong credentials, app or user setup."""


class ApiLimitReached(SalesforceError):
    """REQUEST_LIMIT_EXCEEDED, or the org's configured share of DailyApiRequests is used up."""


class BulkJobFailed(SalesforceError):
    """A Bulk API 2.0 job ended Failed or Aborted (the caller may fall back to REST)."""


class DownloadInterrupted(SalesforceError):
    """A result download broke off mid-way (dropped connection, truncated body); it can be fetched again."""


class NotModified(Exception):
    """A conditional request (If-Modified-Since) found nothing changed."""
