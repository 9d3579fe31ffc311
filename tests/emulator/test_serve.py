"""`orgfeed emulator`'s logic: the JSON summary, the written orgfeed.toml and .env, a clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import requests

from app.config import load_settings
from app.demo import write_demo_config
from app.emulator import Emulator, demo_orgs
from app.emulator.org import Org
from app.emulator.serve import render_summary


def _env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("folder", ["plain", 'it\'s \\ "quoted"'])
def test_config_out_writes_a_config_orgfeed_accepts(tmp_path: Path, folder: str) -> None:
    tmp_path = tmp_path / folder  # a quote or backslash in the path must survive the TOML writer
    with Emulator(demo_orgs(rows=10)) as emulator:
        keys = {name: org.app.private_key_pem for name, org in emulator.orgs.items()}
        config, env_file = write_demo_config(tmp_path / "orgfeed.toml", emulator)
        settings = load_settings(_env(env_file), config)
        base_url = emulator.base_url
    assert [(o.name, o.geo, o.auth, o.login_url) for o in settings.orgs] == [
        ("amer", "AMER", "client_credentials", base_url),
        ("emea", "EMEA", "jwt", base_url),
    ]
    assert all(str(o.ca_bundle) == str(tmp_path / "emulator-ca.pem") for o in settings.orgs)
    assert [m.object for m in settings.mappings] == ["Employee", "EmployeeCrisisAssessment", "Account", "Contact"]
    assert [v.name for v in settings.views] == ["global_assessment", "global_contact"]
    assert settings.views[1].indexed == ("lastname", "email")
    assert [(f.name, tuple(f.views)) for f in settings.feeds] == [("global", ("global_assessment", "global_contact"))]
    assert (tmp_path / "emea-jwt-key.pem").read_text() == keys["emea"]


def test_the_emulator_command_prints_one_json_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "out" / "orgfeed.toml"
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "emulator", "--port", "0", "--rows", "40", "--json", "--config-out", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        summary = json.loads(process.stdout.readline())
        assert set(summary) == {"base_url", "ca_bundle", "control_url", "pubsub_url", "orgs", "config", "env"}
        assert [o["name"] for o in summary["orgs"]] == ["amer", "emea"]
        assert summary["orgs"][0]["objects"]["Employee"] == 40
        assert summary["config"] == str(config) and Path(summary["ca_bundle"]).is_file()
        env = _env(Path(summary["env"]))
        session = requests.Session()
        session.verify = summary["ca_bundle"]
        session.trust_env = False
        token = session.post(
            f"{summary['base_url']}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["AMER_CLIENT_ID"],
                "client_secret": env["AMER_CLIENT_SECRET"],
            },
        )
        assert token.status_code == 200
        emea = summary["orgs"][1]
        assertion = jwt.encode(
            {"iss": env["EMEA_CLIENT_ID"], "sub": env["EMEA_USERNAME"], "aud": summary["base_url"], "exp": 4102444800},
            Path(env["EMEA_PRIVATE_KEY"]).read_text(),
            algorithm="RS256",
        )
        granted = session.post(
            f"{summary['base_url']}/services/oauth2/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        )
        assert granted.status_code == 200 and emea["org_id"] in granted.json()["id"]
        assert set(emea) >= {"client_credentials", "password", "jwt", "refresh_token", "authorization_code"}
        assert "certificate_pem" not in emea["jwt"]
        renewed = session.post(
            f"{summary['base_url']}/services/oauth2/token",
            data={"grant_type": "refresh_token", **emea["refresh_token"]},
        )
        assert renewed.status_code == 200 and emea["org_id"] in renewed.json()["id"]
        assert emea["authorization_code"]["authorize_url"] == f"{summary['base_url']}/services/oauth2/authorize"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == 0


def test_text_output_names_each_org_its_urls_and_credentials() -> None:
    with Emulator(demo_orgs(rows=5)) as emulator:
        text = render_summary(
            {
                "base_url": emulator.base_url,
                "ca_bundle": str(emulator.ca_bundle),
                "control_url": f"{emulator.base_url}/__emulator/",
                "orgs": emulator.describe_orgs(),
            }
        )
        amer = emulator.org("amer")
        assert f"org amer (AMER, Acme Americas, org id {amer.org_id})" in text
        assert f"  login URL     {emulator.base_url}" in text
        assert f"    client_secret  {amer.app.client_secret}" in text
        assert f"    security_token {amer.users[0].security_token}" in text
        assert f"CA bundle     {emulator.ca_bundle}" in text
        assert f"    refresh_token  {amer.app.refresh_token}" in text
        assert f"    redirect_uri   {amer.app.callback_url}" in text


def test_the_org_list_names_the_credentials_of_every_grant(shared: Emulator) -> None:
    amer = shared.org("amer")
    [summary] = [org for org in shared.describe_orgs() if org["name"] == "amer"]
    assert summary["refresh_token"] == {
        "client_id": amer.app.client_id,
        "client_secret": amer.app.client_secret,
        "refresh_token": amer.app.refresh_token,
    }
    assert summary["authorization_code"] == {
        "client_id": amer.app.client_id,
        "client_secret": amer.app.client_secret,
        "redirect_uri": "http://localhost:1717/OauthRedirect",
        "authorize_url": f"{shared.base_url}/services/oauth2/authorize",
        "username": amer.users[0].username,
    }


def test_the_same_seed_gives_the_same_refresh_token() -> None:
    first, second = ({spec.name: Org(spec) for spec in demo_orgs(rows=1, seed=3)} for _ in range(2))
    assert first["emea"].app.refresh_token == second["emea"].app.refresh_token
    assert first["emea"].app.refresh_token != first["amer"].app.refresh_token
