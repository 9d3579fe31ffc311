"""Configuration: the one reader of the environment and of orgfeed.toml, turning both into frozen `Settings`.

`models` declares every key with its type and default, `load` reads the file, `.env` and environment,
`summary` describes loaded settings for `orgfeed config check`. It may import only the standard library
and its own modules; every other package receives `Settings` (or the values it needs) as an argument.
"""

from app.config.load import ConfigError, load_database_settings, load_settings, require_admin_password
from app.config.models import (
    ColumnConfig,
    DatabaseSettings,
    FeedConfig,
    JoinConfig,
    MappingConfig,
    OrgConfig,
    Settings,
    SyncConfig,
    ViewConfig,
)

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
