"""Per-org credentials: the integration user, the connected app, and its JWT signing certificate."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

CALLBACK_URL = "http://localhost:1717/OauthRedirect"


@dataclass(frozen=True)
class User:
    """A Salesforce user that can log in (password grant) or be run as (client credentials, JWT)."""

    user_id: str
    username: str
    password: str
    security_token: str
    display_name: str


@dataclass(frozen=True)
class ConnectedApp:
    """A connected app: consumer key and secret, the run-as user, and the certificate JWTs are checked with."""

    client_id: str
    client_secret: str
    run_as_username: str
    certificate_pem: str
    private_key_pem: str  # held by the emulator only so it can hand it to the demo and tests
    # A refresh token the run-as user has approved, for tools that log in no other way (a web server
    # flow run beforehand, as a Salesforce admin would run it once when setting such a tool up).
    refresh_token: str = ""
    callback_url: str = CALLBACK_URL  # the one redirect URI the web server flow accepts


def derived_secret(
    seed: int,
    org: str,
    purpose: str,
    length: int,
    alphabet: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
) -> str:
    """Return a deterministic secret for (seed, org, purpose): the same seed gives the same credentials."""
    digest = b""
    counter = 0
    while len(digest) < length:
        digest += hashlib.sha256(f"{seed}/{org}/{purpose}/{counter}".encode()).digest()
        counter += 1
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


@functools.lru_cache(maxsize=16)
def make_certificate(common_name: str) -> tuple[str, str]:
    """Return (private key PEM, self-signed certificate PEM) for a connected app's JWT bearer flow.

    Cached per process: key generation is the slowest part of starting an emulator.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()
