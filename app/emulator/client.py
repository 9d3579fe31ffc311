"""OrgClient: plain HTTPS calls to one emulated org as its integration user (tests, benchmarks, demos).

`client.get("limits")` means GET /services/data/v62.0/limits with the org's bearer token.
"""

from __future__ import annotations

from typing import Any

import requests

from app.emulator.emulator import Emulator

API_VERSION = "62.0"


def https_session(emulator: Emulator) -> requests.Session:
    """Return a requests session that trusts the emulator's CA (and ignores REQUESTS_CA_BUNDLE)."""
    session = requests.Session()
    session.verify = str(emulator.ca_bundle)
    session.trust_env = False
    return session


class OrgClient:
    """Plain HTTP against one org of a started emulator."""

    def __init__(self, emulator: Emulator, org: str = "amer", api_version: str = API_VERSION) -> None:
        self.emulator = emulator
        self.http = https_session(emulator)
        self.token = emulator.session_id(org)
        self.base = f"{emulator.base_url}/services/data/v{api_version}/"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, headers=self.headers(headers), **kw)

    def post(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, headers=self.headers(headers), **kw)

    def patch(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return self.http.patch(self.base + path, headers=self.headers(headers), **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        return self.http.delete(self.base + path, headers=self.headers(headers), **kw)
