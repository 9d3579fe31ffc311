"""Fixtures: emulators on 127.0.0.1 with the demo orgs, clients of their orgs, simple-salesforce on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from app.emulator import Emulator, demo_orgs
from app.emulator.client import API_VERSION, OrgClient, https_session


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
def client(emulator: Emulator) -> OrgClient:
    return OrgClient(emulator)


@pytest.fixture
def shared_client(shared: Emulator) -> OrgClient:
    return OrgClient(shared)


@pytest.fixture
def sf(emulator: Emulator) -> Salesforce:
    return Salesforce(
        instance_url=emulator.base_url,
        session_id=emulator.session_id("amer"),
        session=https_session(emulator),
        version=API_VERSION,
    )


@pytest.fixture
def shared_sf(shared: Emulator) -> Salesforce:
    return Salesforce(
        instance_url=shared.base_url,
        session_id=shared.session_id("amer"),
        session=https_session(shared),
        version=API_VERSION,
    )
