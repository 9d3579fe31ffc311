"""A local emulator of Salesforce orgs: HTTPS REST, Bulk API 2.0 and 1.0, OAuth, demo data and fault injection.

It may import the standard library, Flask/Werkzeug, cryptography, trustme, PyJWT, orjson, requests, and for
its Pub/Sub API (pubsub/) grpcio, fastavro and app.eventbus, the generated stubs.
It must not import any other orgfeed package; only the CLI's `demo`/`emulator` commands,
the tests and bench/ import it. Start with `Emulator(demo_orgs(rows=300, seed=7)).start()`; README.md
beside this file documents the endpoints and the control API.
"""

from app.emulator.demo.orgs import demo_orgs
from app.emulator.emulator import Emulator
from app.emulator.faults import Fault

__all__ = ["Emulator", "Fault", "demo_orgs"]
