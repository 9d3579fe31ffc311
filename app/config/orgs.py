"""The [[orgs]] tables, one model per kind of org, and `OrgConfig`, the record every kind becomes.

An org orgfeed loads logs in one of four ways (`auth`); each way is a model declaring exactly the keys
it takes, so a key of another way is refused as not used, and `OrgTable` picks the model from
`managed_by` and `auth` (a discriminated union). A Heroku Connect org takes no credentials. Keys ending
in `_env` name environment variables holding secrets: validation checks them when its context holds
an environment (`{"environ": ..., "org": <name for messages>}`), and `org_config` reads their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, Discriminator, Field, Tag, ValidationInfo, model_validator

from app.config.keys import ExistingFile, SchemaName, Table, Url, VariableName, problem

AuthKind = Literal["client_credentials", "jwt", "password", "session"]


def secret_value(environ: Mapping[str, str], variable: str, secret: str) -> str | None:
    """The secret held in `variable`, stripped (a private key keeps its line breaks); None when empty or unset."""
    value = environ.get(variable, "")
    if not value.strip():
        return None
    return value if secret == "private_key" else value.strip()


def _needed_secret(variable: str, info: ValidationInfo) -> str:
    context = info.context or {}
    environ = context.get("environ")
    secret = (info.field_name or "").removesuffix("_env")
    if environ is not None and secret_value(environ, variable, secret) is None:
        state = "is empty" if variable in environ else "is not set"
        org = context.get("org")
        raise problem(
            f"environment variable {variable} {state}: org {org!r} needs its {secret.replace('_', ' ')} there"
        )
    return variable


# The environment variable holding a secret the org cannot log in without.
Secret = Annotated[VariableName, AfterValidator(_needed_secret)]


def _upper_cased_name(keys: dict[str, Any]) -> str:
    return str(keys.get("name", "")).upper()


PUBSUB_URL = "api.pubsub.salesforce.com:443"  # Salesforce's Pub/Sub API endpoint (host:port)


class _Org(Table):
    """The keys of every org."""

    name: SchemaName = Field(description='the org\'s name, also its PostgreSQL schema (e.g. "amer")')
    geo: str = Field(default_factory=_upper_cased_name, min_length=1)  # the `geo` column of the org's rows
    managed_by: Literal["orgfeed", "heroku_connect"] = "orgfeed"


class _LoadedOrg(_Org):
    """The keys of an org orgfeed loads, whatever its auth."""

    login_url: Url | None = None
    api_version: str = "62.0"
    ca_bundle: ExistingFile | None = None  # a private CA to trust, e.g. the emulator's
    delete_mode: Literal["soft", "hard"] = "soft"
    api_budget_percent: Annotated[int, Field(ge=1, le=100)] = (
        80  # stop syncing the org at this share of its daily API limit
    )
    stream: bool = False  # stream every mapping of this org (Change Data Capture over the Pub/Sub API)
    pubsub_url: str = Field(default=PUBSUB_URL, min_length=1)  # the Pub/Sub API endpoint, host:port


class OrgConfig(_LoadedOrg):
    """An org as the rest of orgfeed sees it: one record whatever its kind, secrets resolved."""

    auth: AuthKind | None = None  # None for an org orgfeed does not load
    instance_url: Url | None = None
    audience: str | None = None
    # Credential name ("client_id", "private_key", ...) -> the environment variable that holds it.
    secret_envs: Mapping[str, str] = Field(default_factory=dict)
    # Credential name -> its value; empty when settings were loaded without secrets.
    secrets: Mapping[str, str] = Field(default_factory=dict, repr=False)

    @property
    def is_loaded(self) -> bool:
        """True when orgfeed syncs this org (not a schema some other tool fills)."""
        return self.managed_by == "orgfeed"


class HerokuConnectOrg(_Org):
    """An org whose schema Heroku Connect fills: orgfeed only reads it, so it takes no loader keys."""

    managed_by: Literal["heroku_connect"]

    @classmethod
    def unused_key_text(cls) -> str:
        return "not used: an org managed by Heroku Connect has no loader and takes no credentials"


class _Auth(_LoadedOrg):
    """An org orgfeed loads: each subclass is one `auth` and adds the keys it needs."""

    @classmethod
    def kind(cls) -> str:
        """The value of `auth` this model stands for."""
        return str(get_args(cls.model_fields["auth"].annotation)[0])

    @classmethod
    def needs(cls) -> tuple[str, ...]:
        """The keys this auth needs: those its class adds without a default, in declaration order."""
        own_keys = vars(cls).get("__annotations__", {})  # not inherited ones: login_url is not the auth's to name
        return tuple(key for key in own_keys if key != "auth" and cls.model_fields[key].is_required())

    @classmethod
    def missing_key_text(cls, key: str) -> str:
        return f"auth = {cls.kind()!r} needs it" if key in cls.needs() else super().missing_key_text(key)

    @classmethod
    def unused_key_text(cls) -> str:
        return f"not used with auth = {cls.kind()!r} (it needs {', '.join(cls.needs())})"


class _TokenAuth(_Auth):
    """An auth that asks a login URL for tokens."""

    login_url: Url = Field(description="the URL token requests go to, e.g. https://login.salesforce.com")


class ClientCredentialsOrg(_TokenAuth):
    """OAuth 2.0 client credentials of an External Client App."""

    auth: Literal["client_credentials"]
    client_id_env: Secret
    client_secret_env: Secret


class JwtOrg(_TokenAuth):
    """The OAuth 2.0 JWT bearer flow for an integration user."""

    auth: Literal["jwt"]
    client_id_env: Secret
    username_env: Secret
    private_key_env: Secret  # PEM text, or the path of a PEM file
    audience: str | None = None  # the JWT's `aud`; None: login_url


class PasswordOrg(_TokenAuth):
    """The OAuth 2.0 username-password flow."""

    auth: Literal["password"]
    client_id_env: Secret
    client_secret_env: Secret
    username_env: Secret
    password_env: Secret
    security_token_env: VariableName | None = None  # appended to the password when set


class SessionOrg(_Auth):
    """An existing session id, for development."""

    auth: Literal["session"]
    instance_url: Url
    session_id_env: Secret


AUTH_TABLES: tuple[type[_Auth], ...] = (ClientCredentialsOrg, JwtOrg, PasswordOrg, SessionOrg)
# The keys only some auths take (`auth` aside).
CREDENTIAL_KEYS = frozenset(
    key for table in AUTH_TABLES for key in table.model_fields if key != "auth" and key not in _LoadedOrg.model_fields
)


class _OrgWithoutAuth(_LoadedOrg):
    """An org orgfeed loads whose auth is missing or unknown: its other keys are still checked."""

    auth: AuthKind = Field(description=" | ".join(get_args(AuthKind)))

    @model_validator(mode="before")
    @classmethod
    def _set_credentials_aside(cls, table: Any) -> Any:
        # Which credential keys belong is for a valid auth to say.
        if isinstance(table, dict):
            return {key: value for key, value in table.items() if key not in CREDENTIAL_KEYS}
        return table


def _org_kind(table: Any) -> str:
    if not isinstance(table, dict):
        return "no_auth"
    if table.get("managed_by") == "heroku_connect":
        return "heroku_connect"
    auth = table.get("auth")
    return auth if isinstance(auth, str) and auth in get_args(AuthKind) else "no_auth"


OrgTable = Annotated[
    Annotated[HerokuConnectOrg, Tag("heroku_connect")]
    | Annotated[ClientCredentialsOrg, Tag("client_credentials")]
    | Annotated[JwtOrg, Tag("jwt")]
    | Annotated[PasswordOrg, Tag("password")]
    | Annotated[SessionOrg, Tag("session")]
    | Annotated[_OrgWithoutAuth, Tag("no_auth")],
    Discriminator(_org_kind),
]


def org_config(table: _Org, environ: Mapping[str, str] | None) -> OrgConfig:
    """The record of an org table, with the secrets its `_env` keys name read from `environ` (none when None)."""
    secret_envs = {key.removesuffix("_env"): value for key, value in table if key.endswith("_env") and value}
    secrets = {}
    for secret, variable in secret_envs.items():
        value = None if environ is None else secret_value(environ, variable, secret)
        if value is not None:
            secrets[secret] = value
    keys = {key: value for key, value in table if not key.endswith("_env")}
    return OrgConfig(**keys, secret_envs=secret_envs, secrets=secrets)
