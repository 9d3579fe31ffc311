"""Field policies in orgfeed.toml: `hash` and `redact` per mapping, the hash key's variable, and their mistakes."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_settings

GOOD_ORG = """
[[orgs]]
name = "amer"
login_url = "https://login.example.com"
auth = "client_credentials"
client_id_env = "AMER_ID"
client_secret_env = "AMER_SECRET"
"""
GOOD_ENV = {"AMER_ID": "id-1", "AMER_SECRET": "secret-1"}

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
            ["mappings.Contact.hash: 'Phone' not mapped: add to this mapping's fields, or remove from hash"],
            id="unmapped",
        ),
        pytest.param(
            'redact = ["Id", "SystemModstamp"]\n',
            KEY,
            ["mappings.Contact.redact: 'Id', 'SystemModstamp': orgfeed needs them in clear to sync"],
            id="system-field",
        ),
        pytest.param(
            'hash = ["Email"]\nredact = ["email"]\n',
            KEY,
            ["mappings.Contact.redact: 'email' also in hash: a field takes one policy"],
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


FEED_VIEW = '\n[[views]]\nname = "people"\nobject = "Contact"\n'


def feed_problems(tmp_path, feed: str) -> list[str]:
    path = tmp_path / "orgfeed.toml"
    path.write_text(GOOD_ORG + FEED_VIEW + '\n[[feeds]]\nname = "emea"\nviews = ["people"]\n' + feed)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=GOOD_ENV, path=path)
    prefix = f"{path}: "
    return [problem.removeprefix(prefix) for problem in caught.value.problems]


def test_a_feed_scope_is_read(tmp_path):
    path = tmp_path / "orgfeed.toml"
    path.write_text(
        GOOD_ORG + FEED_VIEW + '\n[[feeds]]\nname = "a"\nviews = ["people"]\ngeos = ["AMER"]\nhide = ["people.email"]\n'
    )
    feed = load_settings(environ=GOOD_ENV, path=path).feeds[0]
    assert (feed.geos, feed.hide, feed.is_scoped) == (("AMER",), ("people.email",), True)


@pytest.mark.parametrize(
    ("feed", "expected"),
    [
        ('geos = ["APAC"]\n', ["feeds.emea.geos: names geo 'APAC', which no org has (geos: AMER)"]),
        ("geos = []\n", ["feeds.emea.geos: is empty: list at least one geo, or leave it out to serve every geo"]),
        ('hide = ["email"]\n', ["feeds.emea.hide: 'email' must name a view's column as \"view.column\""]),
        (
            'hide = ["other.email"]\n',
            ["feeds.emea.hide: 'other.email' names view 'other', which this feed does not serve"],
        ),
        (
            'hide = ["people.geo"]\n',
            ["feeds.emea.hide: 'people.geo': every view keeps its id and geo columns; they cannot be hidden"],
        ),
    ],
)
def test_each_feed_scope_mistake_gets_its_own_line(tmp_path, feed, expected):
    assert feed_problems(tmp_path, feed) == expected
