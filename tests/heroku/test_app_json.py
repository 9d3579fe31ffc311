"""app.json (the Deploy button), requirements.txt and .python-version: structure and consistency."""

import json
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from app.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
APP_JSON_KEYS = {
    "name",
    "description",
    "keywords",
    "website",
    "repository",
    "logo",
    "success_url",
    "scripts",
    "env",
    "formation",
    "addons",
    "buildpacks",
    "environments",
    "stack",
    "image",
}


def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def test_app_json_has_only_schema_keys_and_the_deploy_essentials():
    manifest = app_json()
    assert set(manifest) <= APP_JSON_KEYS
    assert manifest["name"] == "orgfeed" and len(manifest["description"]) <= 140
    assert manifest["repository"].startswith("https://") and manifest["keywords"]
    assert manifest["buildpacks"] == [{"url": "heroku/python"}]
    assert re.fullmatch(r"heroku-2\d", manifest["stack"])
    assert set(manifest["formation"]) == {"web", "worker"}
    assert all(process["quantity"] == 1 for process in manifest["formation"].values())
    assert [addon["plan"].split(":")[0] for addon in manifest["addons"]] == ["heroku-postgresql"]
    assert manifest["addons"][0]["plan"] == "heroku-postgresql:essential-0"


def test_every_env_entry_is_described_and_optional_ones_say_so():
    env = app_json()["env"]
    for name, entry in env.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name)
        assert len(entry["description"]) > 20, name
        assert set(entry) <= {"description", "value", "required", "generator"}, name
    assert env["ORGFEED_ADMIN_PASSWORD"] == {
        "description": env["ORGFEED_ADMIN_PASSWORD"]["description"],
        "generator": "secret",
    }
    assert all(entry.get("required") is False for name, entry in env.items() if name != "ORGFEED_ADMIN_PASSWORD")


def test_app_json_offers_every_secret_variable_the_shipped_config_names():
    settings = load_settings(environ={}, path=ROOT / "orgfeed.toml", resolve_secrets=False)
    named = {variable for org in settings.orgs for variable in org.secret_envs.values()}
    assert named and named <= set(app_json()["env"])


def test_requirements_pin_every_runtime_dependency_within_its_range():
    ranges = {
        Requirement(text).name.lower(): Requirement(text)
        for text in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-1] == "."  # installs orgfeed itself, with pyproject's ranges
    pins = {Requirement(line).name.lower(): Requirement(line) for line in lines[:-1]}
    assert set(pins) == set(ranges)
    for name, pin in pins.items():
        version = next(iter(pin.specifier)).version
        assert next(iter(pin.specifier)).operator == "==" and ranges[name].specifier.contains(version), name
        assert pin.extras == ranges[name].extras, name


def test_python_version_names_a_supported_major_version():
    assert (ROOT / ".python-version").read_text().strip() == "3.11"
