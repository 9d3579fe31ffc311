"""Field policies in orgfeed.toml: `hash` and `redact` per mapping, the hash key's variable, and their mistakes."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_settings

from .test_config import GOOD_ENV, GOOD_ORG

KEY = {"ORGFEED_HASH_KEY": "k" * 32}


def load(tmp_path, mapping: str, environ: dict[str, str], sync: str = ""):
    path = tmp_path / "orgfeed.toml"
    path.write_text(GOOD_ORG + sync + '\n[[mappings]]\nobject = "Contact"\n' + mapping)
    return load_settings(environ={**GOOD_ENV, **environ}, path=path)


def problems_of(tmp_path, mapping: str, environ: dict[str, str], sync: str = "") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, mapping, environ, sync)
    prefix = f"{tmp_path / 'orgfeed.toml'}: "
    return [problem.removeprefix(prefix) for problem in caught.value.problems]


def test_policies_and_the_key_are_read(tmp_path):
    settings = load(tmp_path, 'fields = ["Email", "Phone"]\nhash = ["Email"]\nredact = ["Phone"]\n', KEY)
    assert (settings.mappings[0].hash, settings.mappings[0].redact) == (("Email",), ("Phone",))
    assert settings.hash_key == "k" * 32
    assert "k" * 32 not in repr(settings)


def test_the_key_variable_is_a_setting(tmp_path):
    settings = load(tmp_path, 'hash = ["Email"]\n', {"PII_KEY": "p" * 40}, sync='[sync]\nhash_key_env = "PII_KEY"\n')
    assert settings.hash_key == "p" * 40


@pytest.mark.parametrize(
    ("mapping", "environ", "expected"),
    [
        pytest.param(
            'fields = ["Email"]\nhash = ["Phone"]\n',
            KEY,
            ["mappings.Contact.hash: 'Phone' is not mapped: add it to this mapping's fields, or remove it from hash"],
            id="unmapped",
        ),
        pytest.param(
            'redact = ["Id", "SystemModstamp"]\n',
            KEY,
            [
                "mappings.Contact.redact: 'Id' is a field orgfeed needs in clear to sync: remove it here",
                "mappings.Contact.redact: 'SystemModstamp' is a field orgfeed needs in clear to sync: remove it here",
            ],
            id="system-field",
        ),
        pytest.param(
            'hash = ["Email"]\nredact = ["email"]\n',
            KEY,
            ["mappings.Contact.redact: 'email' is also in hash: a field takes one policy"],
            id="both",
        ),
        pytest.param(
            'hash = "Email"\n',
            KEY,
            ["mappings.Contact.hash: must be an array of strings, got a string 'Email'"],
            id="not-a-list",
        ),
    ],
)
def test_each_policy_mistake_gets_its_own_line(tmp_path, mapping, environ, expected):
    assert problems_of(tmp_path, mapping, environ) == expected


@pytest.mark.parametrize(
    ("environ", "state"), [({}, "is not set"), ({"ORGFEED_HASH_KEY": "short"}, "has 5 characters")]
)
def test_hashing_without_a_usable_key_is_refused(tmp_path, environ, state):
    assert problems_of(tmp_path, 'hash = ["Email"]\n', environ) == [
        f"environment: ORGFEED_HASH_KEY {state}: a mapping hashes fields, so set it to a secret of at least 32 "
        "characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`) and keep it: a new key "
        "changes every hash and reloads the hashed mappings"
    ]


def test_no_key_is_needed_without_a_hash_policy(tmp_path):
    assert load(tmp_path, 'redact = ["Phone"]\n', {}).hash_key is None
