"""Configuration: the one reader of the environment and of orgfeed.toml, turning both into frozen `Settings`.

`models` and `orgs` hold one pydantic model per table (also the records the rest of orgfeed reads), `keys`
the kinds of value; `document` and `problems` validate a file and word its mistakes; `load` reads the file,
`.env` and environment; `summary` describes settings for `orgfeed config check`. It imports pydantic,
platformdirs and the standard library, never another orgfeed package: those receive `Settings` instead.
"""

from app.config.load import ConfigError, load_database_settings, load_settings, require_admin_password
from app.config.models import (
    ColumnConfig,
    DatabaseSettings,
    FeedConfig,
    JoinConfig,
    MappingConfig,
    Settings,
    SyncConfig,
    ViewConfig,
)
from app.config.orgs import OrgConfig

__all__ = [
    "ColumnConfig",
    "ConfigError",
    "DatabaseSettings",
    "FeedConfig",
    "JoinConfig",
    "MappingConfig",
    "OrgConfig",
    "Settings",
    "SyncConfig",
    "ViewConfig",
    "load_database_settings",
    "load_settings",
    "require_admin_password",
]
