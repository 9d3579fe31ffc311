"""Fixtures: emulators on 127.0.0.1 with the demo orgs, HTTPS sessions trusting their CA, tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from app.emulator import Emulator, demo_orgs

API = "62.0"


def https_session(emulator: Emulator) -> requests.Session:
    session = requests.Session()
    session.verify = str(emulator.ca_bundle)
    session.trust_env = False   # REQUESTS_CA_BUNDLE would override verify otherwise
    return session


class Client:
    """Plain HTTP against one org of an emulator: `get("limits")` means /services/data/v62.0/limits."""

    def __init__(self, emulator: Emulator, org: str = "amer") -> None:
        self.emulator = emulator
        self.http = https_session(emulator)
        self.token = emulator.session_id(org)
        self.base = f"{emulator.base_url}/services/data/v{API}/"

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **kw) -> requests.Response:
        return self.http.get(self.base + path, headers=self.headers(headers), **kw)

    def post(self, path: str, headers: dict[str, str] | None = None, **kw) -> requests.Response:
        return self.http.post(self.base + path, headers=self.headers(headers), **kw)

    def patch(self, path: str, headers: dict[str, str] | None = None, **kw) -> requests.Response:
        return self.http.patch(self.base + path, headers=self.headers(headers), **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None, **kw) -> requests.Response:
        return self.http.delete(self.base + path, headers=self.headers(headers), **kw)


@pytest.fixture(scope="session")
def shared() -> Iterator[Emulator]:
    """One emulator for tests that only read (300 rows per object, seed 7). Do not change its data."""
    with Emulator(demo_orgs(rows=300, seed=7)) as emulator:
        yield emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulator for tests that change data, faults, sessions, limits or the clock."""
    with Emulator(demo_orgs(rows=300, seed=7)) as fresh:
        yield fresh


@pytest.fixture
def client(emulator: Emulator) -> Client:
    return Client(emulator)


@pytest.fixture
def shared_client(shared: Emulator) -> Client:
    return Client(shared)


@pytest.fixture
def sf(emulator: Emulator) -> Salesforce:
    return Salesforce(instance_url=emulator.base_url, session_id=emulator.session_id("amer"),
                      session=https_session(emulator), version=API)


@pytest.fixture
def shared_sf(shared: Emulator) -> Salesforce:
    return Salesforce(instance_url=shared.base_url, session_id=shared.session_id("amer"),
                      session=https_session(shared), version=API)
