import re
from pathlib import Path
from typing import get_args

import pytest
from pydantic import BaseModel, ValidationError

from app.config import (
    ColumnConfig,
    ConfigError,
    JoinConfig,
    MappingConfig,
    OrgConfig,
    SyncConfig,
    ViewConfig,
    load_database_settings,
    load_settings,
)
from app.config.document import SCHEMAS
from app.config.orgs import AUTH_TABLES, AuthKind

ROOT = Path(__file__).resolve().parents[1]

GOOD_ORG = """
[[orgs]]
name = "amer"
login_url = "https://login.example.com"
auth = "client_credentials"
client_id_env = "AMER_ID"
client_secret_env = "AMER_SECRET"
"""
GOOD_ENV = {"AMER_ID": "id-1", "AMER_SECRET": "secret-1"}


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None, **kwargs):
    path = tmp_path / "orgfeed.toml"
    path.write_text(text)
    return load_settings(environ=GOOD_ENV if environ is None else environ, path=path, **kwargs)


def problems_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ)
    prefix = f"{tmp_path / 'orgfeed.toml'}: "
    return [problem.removeprefix(prefix) for problem in caught.value.problems]


def test_example_config_documents_a_valid_configuration():
    environ = {
        "AMER_CLIENT_ID": "a",
        "AMER_CLIENT_SECRET": "b",
        "EMEA_CLIENT_ID": "c",
        "EMEA_USERNAME": "integration@emea.example.com",
        "EMEA_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\n...",
    }
    settings = load_settings(environ=environ, path=ROOT / "orgfeed.toml")
    assert [(org.name, org.geo, org.auth, org.managed_by) for org in settings.orgs] == [
        ("amer", "AMER", "client_credentials", "orgfeed"),
        ("emea", "EMEA", "jwt", "orgfeed"),
    ]
    assert settings.orgs[1].secrets == {
        "client_id": "c",
        "username": "integration@emea.example.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\n...",
    }
    assert settings.mappings[1] == MappingConfig(
        object="EmployeeCrisisAssessment", fields=None, orgs=None, poll_seconds=600
    )
    assert [view.name for view in settings.views] == ["global_assessment", "global_contact"]
    view = settings.views[0]
    assert view.joins == (JoinConfig(lookup="EmployeeId", object="Employee"),)
    assert view.columns == (
        ColumnConfig("Assessment"),
        ColumnConfig("AssessmentDate"),
        ColumnConfig("Employee.LastName", "lastname"),
        ColumnConfig("Employee.FirstName", "firstname"),
    )
    assert settings.sync == SyncConfig()
    assert settings.feeds[0].views == ("global_assessment", "global_contact")


def test_secrets_are_kept_out_of_repr(tmp_path):
    settings = load(tmp_path, GOOD_ORG)
    assert settings.orgs[0].secrets == {"client_id": "id-1", "client_secret": "secret-1"}
    assert "secret-1" not in repr(settings)


def test_geo_defaults_to_the_upper_cased_name(tmp_path):
    assert load(tmp_path, GOOD_ORG).orgs[0].geo == "AMER"


def test_secrets_are_not_required_when_not_resolved(tmp_path):
    settings = load(tmp_path, GOOD_ORG, environ={}, resolve_secrets=False)
    assert settings.orgs[0].secret_envs == {"client_id": "AMER_ID", "client_secret": "AMER_SECRET"}
    assert settings.orgs[0].secrets == {}


BAD_CONFIGS = [
    pytest.param(
        GOOD_ORG + 'colour = "blue"\n',
        [
            "orgs.amer.colour: unknown key (known keys here: api_budget_percent, api_version, audience, auth, "
            "ca_bundle, client_id_env, client_secret_env, delete_mode, geo, instance_url, login_url, managed_by, "
            "name, password_env, private_key_env, pubsub_url, security_token_env, session_id_env, stream, username_env)"
        ],
        id="unknown-key",
    ),
    pytest.param(
        GOOD_ORG + '[sync]\nworkers = "four"\nlookback_minutes = true\n',
        [
            "sync.lookback_minutes: must be an integer, got a boolean True",
            "sync.workers: must be an integer, got a string 'four'",
        ],
        id="wrong-types",
    ),
    pytest.param(
        GOOD_ORG.replace('"AMER_SECRET"', '"AMER_UNSET_SECRET"'),
        [
            "orgs.amer.client_secret_env: environment variable AMER_UNSET_SECRET is not set: "
            "org 'amer' needs its client secret there"
        ],
        id="missing-secret",
    ),
    pytest.param(
        GOOD_ORG + GOOD_ORG.replace("geo", "x"),
        [
            "orgs.amer: two orgs have the same schema name 'amer': each must be unique",
            "orgs.amer.geo: two orgs have the same geo 'AMER': each must be unique",
        ],
        id="duplicate-org",
    ),
    pytest.param(
        GOOD_ORG.replace('"amer"', '"Amer-West"'),
        [
            "orgs.Amer-West.name: 'Amer-West' is not a valid schema name: use lower-case letters, digits and "
            "underscores, starting with a letter or underscore, at most 63 characters"
        ],
        id="bad-schema-name",
    ),
    pytest.param(
        GOOD_ORG.replace('"amer"', '"public"'),
        ["orgs.public.name: 'public' is reserved: orgfeed or PostgreSQL uses that schema; pick another"],
        id="reserved-schema-name",
    ),
    pytest.param(
        GOOD_ORG
        + '[[mappings]]\nobject = "Employee"\norgs = ["emea"]\n'
        + '[[views]]\nname = "v"\nobject = "Employee"\norgs = ["apac"]\n',
        [
            "mappings.Employee.orgs: names org 'emea', which is not defined in [[orgs]]",
            "views.v.orgs: names org 'apac', which is not defined in [[orgs]]",
        ],
        id="unknown-org-reference",
    ),
    pytest.param(
        GOOD_ORG.replace('auth = "client_credentials"', 'auth = "oauth"'),
        ["orgs.amer.auth: must be one of 'client_credentials' | 'jwt' | 'password' | 'session', got 'oauth'"],
        id="unknown-auth",
    ),
    pytest.param(
        GOOD_ORG.replace('auth = "client_credentials"', 'auth = "jwt"'),
        [
            "orgs.amer.client_secret_env: not used with auth = 'jwt' "
            "(it needs client_id_env, username_env, private_key_env)",
            "orgs.amer.username_env: missing: auth = 'jwt' needs it",
            "orgs.amer.private_key_env: missing: auth = 'jwt' needs it",
        ],
        id="keys-of-another-auth",
    ),
    pytest.param(
        GOOD_ORG + '[[orgs]]\nname = "apac"\nmanaged_by = "heroku_connect"\nclient_id_env = "X"\n',
        ["orgs.apac.client_id_env: not used: an org managed by Heroku Connect has no loader and takes no credentials"],
        id="credentials-on-heroku-connect-org",
    ),
    pytest.param(
        GOOD_ORG
        + '[[views]]\nname = "v"\nobject = "Contact"\ncolumns = ["Account.Name", "Email as E-mail"]\n'
        + '[[feeds]]\nname = "f"\nviews = ["w"]\n',
        [
            "views.v.columns: 'Account.Name' names 'Account', which is not one of this view's joins",
            "views.v.columns: 'Email as E-mail' is not a column: "
            'write "Field", "Parent.Field", optionally followed by "as alias"',
            "feeds.f.views: names view 'w', which is not defined in [[views]]",
        ],
        id="bad-view-and-feed",
    ),
    pytest.param(
        "[[orgs]]\ngeo = 'X'\n[[mappings]]\nfields = []\n",
        [
            'orgs[1].name: missing: the org\'s name, also its PostgreSQL schema (e.g. "amer")',
            "orgs[1].auth: missing: client_credentials | jwt | password | session",
            'mappings[1].object: missing: the Salesforce object\'s API name (e.g. "Employee")',
            'mappings[1].fields: is empty: list at least one name, or "*" for all',
        ],
        id="missing-required-keys",
    ),
    pytest.param("[[orgs]\nname = 1\n", None, id="not-toml"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS)
def test_each_configuration_mistake_gets_its_own_line(tmp_path, text, expected):
    problems = problems_of(tmp_path, text)
    if expected is None:
        assert len(problems) == 1 and problems[0].startswith("not valid TOML: ")
    else:
        assert problems == expected


def test_empty_secret_variable_is_reported_as_empty(tmp_path):
    assert problems_of(tmp_path, GOOD_ORG, {"AMER_ID": "x", "AMER_SECRET": "  "}) == [
        "orgs.amer.client_secret_env: environment variable AMER_SECRET is empty: "
        "org 'amer' needs its client secret there"
    ]


def test_missing_file_names_the_path_and_how_to_create_it(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, path=tmp_path / "absent.toml")
    assert caught.value.problems == [
        f"{tmp_path / 'absent.toml'}: file not found: create it (see the commented example orgfeed.toml in the "
        "repository, or run `orgfeed emulator --config-out orgfeed.toml`) or point ORGFEED_CONFIG at it"
    ]


def test_config_path_comes_from_orgfeed_config(tmp_path):
    path = tmp_path / "elsewhere.toml"
    path.write_text(GOOD_ORG)
    settings = load_settings(environ={**GOOD_ENV, "ORGFEED_CONFIG": str(path)})
    assert settings.config_path == path and settings.orgs[0].name == "amer"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example.com:5432/d1", "postgresql://u:p@db.example.com:5432/d1"),
        ("postgresql://u@localhost/d2", "postgresql://u@localhost/d2"),
        ("postgresql+psycopg://u@localhost/d3", "postgresql://u@localhost/d3"),
    ],
)
def test_database_url_accepts_heroku_form(given, expected):
    assert load_database_settings({"DATABASE_URL": given}).url == expected


def test_database_settings_fall_back_to_the_embedded_server(tmp_path):
    database = load_database_settings({"ORGFEED_DATA_DIR": str(tmp_path / "pg")})
    assert database.is_embedded and database.data_dir == tmp_path / "pg"


def test_malformed_database_urls_are_all_reported():
    with pytest.raises(ConfigError) as caught:
        load_database_settings({"DATABASE_URL": "mysql://x", "ODATA_DATABASE_URL": "db.example.com"})
    assert caught.value.problems == [
        "environment: DATABASE_URL: expected a URL like postgresql://user:password@host:5432/dbname, "
        "got one starting with 'mysql://'",
        "environment: ODATA_DATABASE_URL: expected a URL like postgresql://user:password@host:5432/dbname, "
        "got one starting with 'db.example.com'",
    ]


def test_a_dotenv_beside_the_config_fills_in_unset_variables(tmp_path):
    (tmp_path / ".env").write_text('# secrets\nAMER_ID=from-file\nexport AMER_SECRET="quoted secret"\n\n')
    settings = load(tmp_path, GOOD_ORG, environ={"AMER_ID": "from-environment"})
    assert settings.orgs[0].secrets == {"client_id": "from-environment", "client_secret": "quoted secret"}


def test_a_malformed_dotenv_line_is_reported_with_its_number(tmp_path):
    (tmp_path / ".env").write_text("AMER_ID=x\nnot a pair\n")
    assert problems_of(tmp_path, GOOD_ORG, {"AMER_SECRET": "s"}) == [
        f"{tmp_path / '.env'}: line 2: expected KEY=value, got 'not a pair'"
    ]


def table_keys(schema) -> set[str]:
    """The keys of every table model `schema` holds (a model, or a union of them)."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return set(schema.model_fields)
    return set().union(*(table_keys(argument) for argument in get_args(schema)))


@pytest.mark.parametrize("schema", [SyncConfig, *SCHEMAS.values(), JoinConfig], ids=["sync", *SCHEMAS, "joins"])
def test_every_key_of_every_table_is_documented_in_the_example(schema):
    example = (ROOT / "orgfeed.toml").read_text()
    assert {key for key in table_keys(schema) if not re.search(rf"\b{key}\b", example)} == set()


def test_every_auth_kind_has_a_table_of_its_own():
    assert [table.kind() for table in AUTH_TABLES] == list(get_args(AuthKind))


def test_a_default_is_the_same_whether_a_record_is_read_or_built(tmp_path):
    settings = load(
        tmp_path, GOOD_ORG + '[[mappings]]\nobject = "Employee"\n[[views]]\nname = "v"\nobject = "Employee"\n'
    )
    assert settings.orgs[0] == OrgConfig(
        name="amer",
        auth="client_credentials",
        login_url="https://login.example.com",
        secret_envs={"client_id": "AMER_ID", "client_secret": "AMER_SECRET"},
        secrets={"client_id": "id-1", "client_secret": "secret-1"},
    )
    assert settings.mappings == (MappingConfig(object="Employee"),)
    assert settings.views == (ViewConfig(name="v", object="Employee"),)


def test_records_built_in_code_are_checked_and_hold_tuples():
    assert ViewConfig(name="v", object="Contact", indexed=["email"]).indexed == ("email",)
    with pytest.raises(ValidationError):
        SyncConfig(workers=0)


MORE_BAD_CONFIGS = [
    pytest.param(
        '[[orgs]]\nname = "p"\nauth = "password"\nlogin_url = "https://login.example.com"\nclient_id_env = "AMER_ID"\n'
        'client_secret_env = "AMER_SECRET"\nusername_env = "AMER_ID"\nsession_id_env = "S"\naudience = "x"\n',
        [
            "orgs.p.session_id_env: not used with auth = 'password' "
            "(it needs client_id_env, client_secret_env, username_env, password_env)",
            "orgs.p.audience: not used with auth = 'password' "
            "(it needs client_id_env, client_secret_env, username_env, password_env)",
            "orgs.p.password_env: missing: auth = 'password' needs it",
        ],
        id="password-auth-with-keys-of-others",
    ),
    pytest.param(
        '[[orgs]]\nname = "dev"\nauth = "session"\nlogin_url = "login.example.com"\n',
        [
            "orgs.dev.login_url: must be an http(s) URL, got 'login.example.com'",
            "orgs.dev.instance_url: missing: auth = 'session' needs it",
            "orgs.dev.session_id_env: missing: auth = 'session' needs it",
        ],
        id="session-auth-needs-an-instance-url",
    ),
    pytest.param(
        GOOD_ORG
        + '[[orgs]]\nname = "apac"\nmanaged_by = "heroku_connect"\n'
        + '[[mappings]]\nobject = "Account"\norgs = ["apac", "emea"]\npoll_seconds = 1\n'
        + '[[views]]\nname = "V"\nobject = "Account"\norgs = ["apac", "zz"]\n'
        + '[[feeds]]\nname = "Bad!"\nviews = ["V", "w"]\n',
        [
            "mappings.Account.orgs: names org 'apac', which Heroku Connect fills: orgfeed does not load it",
            "mappings.Account.orgs: names org 'emea', which is not defined in [[orgs]]",
            "mappings.Account.poll_seconds: must be at least 10, got 1",
            "views.V.name: 'V' is not a valid view name: use lower-case letters, digits and underscores",
            "views.V.orgs: names org 'zz', which is not defined in [[orgs]]",
            "feeds.Bad!.name: 'Bad!' is not a valid feed name: lower-case letters, digits, '-' and '_'",
            "feeds.Bad!.views: names view 'w', which is not defined in [[views]]",
        ],
        id="references-checked-beside-other-mistakes",
    ),
    pytest.param(
        GOOD_ORG + GOOD_ORG.replace('"amer"', '"amer2"') + 'geo = "AMER"\napi_budget_percent = 0\n',
        [
            "orgs.amer2.api_budget_percent: must be at least 1, got 0",
            "orgs.amer2.geo: two orgs have the same geo 'AMER': each must be unique",
        ],
        id="duplicate-geo-beside-a-wrong-value",
    ),
    pytest.param(
        GOOD_ORG
        + '[[mappings]]\nobject = "A"\npoll_seconds = true\n[[views]]\nname = "v"\nobject = "A"\nmaterialized = 0\n'
        + "[sync]\nauto_apply_views = 1\n",
        [
            "mappings.A.poll_seconds: must be an integer, got a boolean True",
            "views.v.materialized: must be true or false, got an integer 0",
            "sync.auto_apply_views: must be true or false, got an integer 1",
        ],
        id="booleans-and-integers-apart",
    ),
    pytest.param(
        GOOD_ORG + '[[views]]\nname = "v"\nobject = "C"\njoins = [3, { lookup = "AccountId", objet = "Account" }]\n',
        [
            'views.v.joins[1]: must be a table like { lookup = "EmployeeId", object = "Employee" }, got an integer',
            'views.v.joins[2].object: missing: the parent object it points to (e.g. "Employee")',
            "views.v.joins[2].objet: unknown key (known keys here: lookup, object)",
        ],
        id="bad-joins",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MORE_BAD_CONFIGS)
def test_more_configuration_mistakes_each_get_their_own_line(tmp_path, text, expected):
    assert problems_of(tmp_path, text) == expected


def test_a_feed_may_be_writable_with_a_default_geo(tmp_path):
    views = '[[views]]\nname = "v"\nobject = "Contact"\n'
    settings = load(
        tmp_path, GOOD_ORG + views + '[[feeds]]\nname = "f"\nviews = ["v"]\nwritable = true\ndefault_geo = "AMER"\n'
    )
    assert (settings.feeds[0].writable, settings.feeds[0].default_geo) == (True, "AMER")
    plain = load(tmp_path, GOOD_ORG + views + '[[feeds]]\nname = "f"\nviews = ["v"]\n')
    assert (plain.feeds[0].writable, plain.feeds[0].default_geo) == (False, None)
    problems = problems_of(tmp_path, GOOD_ORG + views + '[[feeds]]\nname = "f"\nviews = ["v"]\ndefault_geo = "APAC"\n')
    assert problems == ["feeds.f.default_geo: names geo 'APAC', which no org has (geos: AMER)"]
