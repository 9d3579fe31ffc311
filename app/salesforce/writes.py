"""Writes to one org's records through the REST API: create, update, delete, and the re-read that follows.

Every request carries `Sforce-Call-Options: client=orgfeed`, so change events name orgfeed as their
origin, and shares the client's re-login on INVALID_SESSION_ID. Nothing here is retried: a create
sent twice makes two records, so a write whose answer never came raises WriteOutcomeUnknown.
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_calloptions.htm
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import orjson
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError as LibraryError

from app.config import OrgConfig
from app.salesforce import SalesforceError
from app.salesforce.client import OrgClient, RetryPolicy

CALL_OPTIONS = {"Sforce-Call-Options": "client=orgfeed", "Content-Type": "application/json"}
# Salesforce Connect waits 120 s for an answer and Heroku's router 30 s: the org gets what fits in both.
WRITE_TIMEOUT_SECONDS = 20.0


class WriteRefused(SalesforceError):
    """The org answered the write with an error: nothing was written. `fields` are the fields Salesforce names."""

    def __init__(
        self, message: str, *, error_code: str, status: int, detail: str, fields: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, error_code=error_code, status=status)
        self.detail = detail  # Salesforce's own message
        self.fields = fields


class WriteOutcomeUnknown(SalesforceError):
    """The request reached (or may have reached) the org, but no answer came: the write may or may not be applied."""


class OrgUnreachable(SalesforceError):
    """The org could not be reached or logged in to: nothing was sent."""


class WriteClients:
    """One OrgClient per org for writes, made on first use (its token request) and shared by threads."""

    def __init__(self, orgs: Mapping[str, OrgConfig]):
        self._orgs = dict(orgs)
        self._clients: dict[str, OrgClient] = {}
        self._lock = threading.Lock()

    def client(self, org: str) -> OrgClient:
        with self._lock:
            client = self._clients.get(org)
            if client is None:
                config = self._orgs[org]
                if not config.secrets and config.auth != "session":
                    names = ", ".join(config.secret_envs.values())
                    raise OrgUnreachable(f"org {org!r}: its credentials ({names}) are not set in the web process")
                try:
                    client = OrgClient(config, retry=RetryPolicy(attempts=1, read_timeout=WRITE_TIMEOUT_SECONDS))
                except SalesforceError as error:
                    raise OrgUnreachable(str(error), error_code=error.error_code, status=error.status) from error
                except requests.RequestException as error:
                    raise OrgUnreachable(f"org {org!r}: login failed: {type(error).__name__}") from error
                self._clients[org] = client
            return client


def create_record(client: OrgClient, sobject: str, values: Mapping[str, Any]) -> str:
    """The id of the record of `sobject` created with `values` (field name -> JSON value)."""
    response = _send(client, f"create {sobject}", "POST", f"sobjects/{sobject}/", values)
    return str(response.json()["id"])


def update_record(client: OrgClient, sobject: str, record_id: str, values: Mapping[str, Any]) -> None:
    """Sets `values` on record `record_id` (PATCH: fields not named keep their values; None clears one)."""
    _send(client, f"update {sobject} {record_id}", "PATCH", f"sobjects/{sobject}/{record_id}", values)


def delete_record(client: OrgClient, sobject: str, record_id: str) -> None:
    """Moves record `record_id` to the org's recycle bin."""
    _send(client, f"delete {sobject} {record_id}", "DELETE", f"sobjects/{sobject}/{record_id}", None)


def read_record(client: OrgClient, sobject: str, record_id: str) -> dict[str, Any]:
    """Every field of record `record_id` as the REST API returns it."""
    response = _send(client, f"read {sobject} {record_id}", "GET", f"sobjects/{sobject}/{record_id}", None)
    return response.json(parse_float=str)


def _send(client: OrgClient, action: str, method: str, path: str, body: Mapping[str, Any] | None) -> requests.Response:
    data = None if body is None else orjson.dumps(dict(body))

    def send(sf: Salesforce) -> requests.Response:
        url = sf.base_url + path
        try:
            response = client.session.request(
                method, url, headers={**sf.headers, **CALL_OPTIONS}, data=data, timeout=client.timeout
            )
        except requests.ConnectionError as error:
            if _never_sent(error):
                raise OrgUnreachable(f"org {client.org.name!r}: {action}: the org is unreachable") from error
            raise WriteOutcomeUnknown(
                f"org {client.org.name!r}: {action}: the connection failed after the request was sent",
                error_code="OUTCOME_UNKNOWN",
            ) from error
        except requests.RequestException as error:  # a read timeout or a body cut off: sent, never answered
            raise WriteOutcomeUnknown(
                f"org {client.org.name!r}: {action}: no answer within {WRITE_TIMEOUT_SECONDS:.0f} s "
                f"({type(error).__name__})",
                error_code="OUTCOME_UNKNOWN",
            ) from error
        if response.status_code == 401:
            # Let OrgClient.call log in again (once, shared) and send again: a 401 wrote nothing.
            raise LibraryError(url, response.status_code, action, _json_or_text(response))
        if response.status_code >= 300:
            raise _refusal(client.org.name, action, response)
        return response

    return client.call(action, send)


def _never_sent(error: requests.ConnectionError) -> bool:
    """True when the connection was never made (refused, DNS, connect timeout), so no byte of the write left."""
    return isinstance(error, requests.ConnectTimeout) or "NewConnectionError" in repr(error)


def _refusal(org: str, action: str, response: requests.Response) -> WriteRefused:
    content = _json_or_text(response)
    entry = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
    code = str(entry.get("errorCode") or f"HTTP_{response.status_code}")
    message = str(entry.get("message") or content)[:2000]
    fields = tuple(str(name) for name in entry.get("fields") or ())
    return WriteRefused(
        f"org {org!r}: {action}: {code}: {message}",
        error_code=code,
        status=response.status_code,
        detail=message,
        fields=fields,
    )


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]
