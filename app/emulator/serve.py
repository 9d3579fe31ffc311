"""`orgfeed emulator`: serve the demo orgs until SIGINT/SIGTERM, print how to reach them, write a config."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from app.emulator.demo.orgs import demo_orgs
from app.emulator.emulator import Emulator
from app.emulator.errors import EmulatorError


def serve_emulator(
    port: int = 8443,
    rows: int = 300,
    json_output: bool = False,
    write_config: Callable[[Emulator], tuple[Path, Path]] | None = None,
    host: str = "127.0.0.1",
    seed: int = 7,
    warm: bool = True,
) -> None:
    """Run the emulator with the demo orgs until SIGINT or SIGTERM, then stop it cleanly.

    With `warm`, objects of 50,000 rows or more have their full-load Bulk CSV rendered before
    the emulator starts listening (about 3 s per 500,000 Employee rows on two cores).
    """
    emulator = Emulator(demo_orgs(rows=rows, seed=seed))
    try:
        emulator.start(host=host, port=port, warm=warm)
    except OSError as error:
        raise EmulatorError(
            f"cannot listen on {host}:{port} ({error.strerror}): choose another port with --port, or 0 for any free one"
        ) from None
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        orgs = emulator.describe_orgs()
        summary: dict[str, Any] = {
            "base_url": emulator.base_url,
            "ca_bundle": str(emulator.ca_bundle),
            "control_url": f"{emulator.base_url}/__emulator/",
            "pubsub_url": emulator.pubsub.url if emulator.pubsub else None,
            "orgs": orgs,
        }
        if write_config is not None:
            config_path, env_path = write_config(emulator)
            summary["config"], summary["env"] = str(config_path.resolve()), str(env_path.resolve())
        if json_output:
            print(orjson.dumps(_without_certificates(summary)).decode(), flush=True)
        else:
            print(render_summary(summary), flush=True)
        stopping.wait()
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _without_certificates(summary: dict[str, Any]) -> dict[str, Any]:
    orgs = [{**org, "jwt": {k: v for k, v in org["jwt"].items() if k != "certificate_pem"}} for org in summary["orgs"]]
    return {**summary, "orgs": orgs}


def render_summary(summary: dict[str, Any]) -> str:
    """Return the human-readable startup text: per org its URLs and credentials for each grant."""
    lines = [
        f"orgfeed emulator serving {summary['base_url']}",
        f"  CA bundle     {summary['ca_bundle']}",
        f"  control API   {summary['control_url']}",
        f"  Pub/Sub API   {summary.get('pubsub_url')}",
    ]
    for org in summary["orgs"]:
        client, password, jwt = org["client_credentials"], org["password"], org["jwt"]
        lines += [
            "",
            f"org {org['name']} ({org['geo']}, {org['company']}, org id {org['org_id']})",
            f"  login URL     {org['login_url']}",
            f"  instance URL  {org['instance_url']}",
            "  records       " + ", ".join(f"{k} {v}" for k, v in org["objects"].items()),
            "  client_credentials",
            f"    client_id      {client['client_id']}",
            f"    client_secret  {client['client_secret']}",
            "  password (append the security token to the password)",
            f"    username       {password['username']}",
            f"    password       {password['password']}",
            f"    security_token {password['security_token']}",
            "  jwt bearer (same client_id)",
            f"    username       {jwt['username']}",
            f"    private key    {jwt['private_key_path']}",
            "  refresh_token (same client_id and client_secret)",
            f"    refresh_token  {org['refresh_token']['refresh_token']}",
            "  authorization_code (same client_id and client_secret; approves at once as login_hint)",
            f"    authorize URL  {org['authorization_code']['authorize_url']}",
            f"    redirect_uri   {org['authorization_code']['redirect_uri']}",
        ]
    if "config" in summary:
        lines += ["", f"wrote {summary['config']} and {summary['env']}"]
    lines += ["", "Ctrl-C stops the emulator."]
    return "\n".join(lines)
