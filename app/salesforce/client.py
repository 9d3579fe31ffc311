"""One org's API client: simple-salesforce plus plain HTTPS, with one shared re-login and retries.

On INVALID_SESSION_ID the first thread to notice logs in again and every thread retries with
the new token (one token request however many threads failed). 5xx answers, timeouts, dropped
connections and malformed bodies are retried with exponential backoff and jitter.
REQUEST_LIMIT_EXCEEDED and the org's API budget raise ApiLimitReached.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar, cast

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError as LibraryError
from simple_salesforce.util import exception_handler

from app.config import OrgConfig
from app.salesforce import ApiLimitReached, NotModified, SalesforceError
from app.salesforce.auth import Token, request_token

T = TypeVar("T")
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5  # seconds; doubles each attempt, plus up to 100 % jitter
    max_delay: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


RetryCallback = Callable[[str, int, str, float], None]  # (action, attempt, reason, delay)


def make_http_session(org: OrgConfig, pool_size: int = 8) -> requests.Session:
    """A requests session for `org`, trusting its ca_bundle when it names one."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if org.ca_bundle is not None:
        session.verify = str(org.ca_bundle)
        # With trust_env, requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify.
        session.trust_env = False
    return session


class OrgClient:
    """The API of one org, safe to share between threads."""

    def __init__(
        self,
        org: OrgConfig,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy = RetryPolicy(),
        on_retry: RetryCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.org = org
        self.retry = retry
        self.on_retry = on_retry
        self._sleep = sleep
        self.session = session or make_http_session(org)
        self.session.hooks["response"].append(self._observe)
        self._lock = threading.Lock()
        self._generation = 0
        self._thread_calls = threading.local()
        self.api_calls = 0
        self.api_usage: tuple[int, int] | None = None  # (used, allocation) from Sforce-Limit-Info
        self.token = request_token(org, self.session, timeout=retry.read_timeout)
        self.sf = self._build_client(self.token)

    @property
    def org_id(self) -> str | None:
        return self.token.org_id

    @property
    def base_url(self) -> str:
        """https://<instance>/services/data/vXX.X/ — what relative REST paths hang off."""
        return self.sf.base_url

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.retry.connect_timeout, self.retry.read_timeout)

    def _build_client(self, token: Token) -> Salesforce:
        # Decimal keeps every digit of currency and number values from JSON bodies.
        return Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            session=self.session,
            version=self.org.api_version,
            parse_float=Decimal,
        )

    def _observe(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        """Counts API calls and remembers the latest Sforce-Limit-Info, for every request made."""
        if "/services/data/" in response.url:
            self._thread_calls.count = self.calls_in_this_thread() + 1
            with self._lock:
                self.api_calls += 1
                match = LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
                if match:
                    self.api_usage = (int(match.group(1)), int(match.group(2)))

    def calls_in_this_thread(self) -> int:
        """API calls made from the calling thread so far (objects sync one per thread, so per object)."""
        return getattr(self._thread_calls, "count", 0)

    def read_limits(self) -> tuple[int, int]:
        """(used, allocation) of DailyApiRequests from `/limits`, remembered for check_budget."""
        # simple-salesforce's restful() returns None for a 204 No Content, which /limits never answers.
        body = self.call("limits", lambda sf: cast(dict[str, Any], sf.restful("limits", timeout=self.timeout)))
        daily = body["DailyApiRequests"]
        usage = (int(daily["Max"]) - int(daily["Remaining"]), int(daily["Max"]))
        with self._lock:
            self.api_usage = usage
        return usage

    def check_budget(self) -> None:
        """Raises ApiLimitReached when the org has used its configured share of the daily allocation."""
        usage = self.api_usage
        if usage is None or usage[1] == 0:
            return
        used, allocation = usage
        if used * 100 >= allocation * self.org.api_budget_percent:
            raise ApiLimitReached(
                f"org {self.org.name!r}: {used} of {allocation} daily API requests used, at or past the budget of "
                f"{self.org.api_budget_percent} % (api_budget_percent): paused until the next run",
                error_code="API_BUDGET",
            )

    def call(self, action: str, fn: Callable[[Salesforce], T]) -> T:
        """`fn(sf)` with one re-login on INVALID_SESSION_ID and backoff on transient failures.

        `action` names the call in messages ("describe Employee"). Raises NotModified for a 304,
        ApiLimitReached, or SalesforceError with the org, the action and Salesforce's error.
        """
        attempt = 0
        relogged = False
        while True:
            generation, sf = self._generation, self.sf
            try:
                return fn(sf)
            except LibraryError as error:
                code, message = _error_code(error.content)
                if error.status == 304:
                    raise NotModified(action) from error
                if error.status == 401 and code == "INVALID_SESSION_ID" and not relogged:
                    self._relogin(generation)
                    relogged = True
                    continue
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise ApiLimitReached(
                        f"org {self.org.name!r}: {action}: REQUEST_LIMIT_EXCEEDED: {message}",
                        error_code=code,
                        status=error.status,
                    ) from error
                if error.status not in TRANSIENT_STATUSES:
                    raise SalesforceError(
                        f"org {self.org.name!r}: {action}: {code or error.status}: {message}",
                        error_code=code,
                        status=error.status,
                    ) from error
                reason = f"HTTP {error.status} {code or ''}".strip()
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                reason = type(error).__name__
            except ValueError as error:  # a body that is not the JSON it should be
                reason = f"malformed response ({error})"
            attempt += 1
            if attempt >= self.retry.attempts:
                raise SalesforceError(
                    f"org {self.org.name!r}: {action} failed {attempt} times, last: {reason}",
                    error_code="RETRIES_EXHAUSTED",
                )
            delay = self.retry.delay(attempt)
            if self.on_retry is not None:
                self.on_retry(action, attempt, reason, delay)
            self._sleep(delay)

    def request(self, action: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A plain HTTPS request to `path` (relative to base_url, or absolute from /services/), retried like `call`."""
        return self.call(action, lambda sf: self._send(sf, action, method, path, **kwargs))

    def request_json(self, action: str, method: str, path: str, **kwargs: Any) -> tuple[Any, requests.Response]:
        """(the parsed JSON body, the response) of `request`; a body that is not JSON is retried like a 5xx."""

        def send(sf: Salesforce) -> tuple[Any, requests.Response]:
            response = self._send(sf, action, method, path, **kwargs)
            return response.json(), response  # inside `call`: a truncated body raises ValueError and is retried

        return self.call(action, send)

    def _send(
        self,
        sf: Salesforce,
        action: str,
        method: str,
        path: str,
        *,
        stream: bool = False,
        headers: dict | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        url = (
            path
            if path.startswith("https://")
            else (f"https://{sf.sf_instance}{path}" if path.startswith("/") else sf.base_url + path)
        )
        response = self.session.request(
            method, url, headers={**sf.headers, **(headers or {})}, timeout=self.timeout, stream=stream, **kwargs
        )
        if response.status_code >= 300:
            exception_handler(response, name=action)
        return response

    def relogin(self) -> None:
        """Logs in again now (the Pub/Sub API refused the session), once across threads."""
        self._relogin(self._generation)

    def _relogin(self, generation: int) -> None:
        """Logs in again unless another thread already did since `generation` was current."""
        with self._lock:
            if self._generation != generation:
                return
            self.token = request_token(self.org, self.session, timeout=self.retry.read_timeout)
            self.sf = self._build_client(self.token)
            self._generation += 1


def _error_code(content: object) -> tuple[str | None, str]:
    """(errorCode, message) from Salesforce's error body: [{"errorCode": ..., "message": ...}]."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode"), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return content.get("errorCode") or content.get("error"), str(
            content.get("message") or content.get("error_description", "")
        )
    return None, str(content)[:300]
