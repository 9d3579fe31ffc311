"""Configuration: the one reader of the environment and of orgfeed.toml, turning both into frozen `Settings`.

`models` and `orgs` are the pydantic models of orgfeed.toml's tables, which are also the records the
rest of orgfeed reads (each key's type and default stated once); `document` validates a whole file and
`problems` words what is wrong; `load` reads the file, `.env` and environment; `summary` describes loaded
settings for `orgfeed config check`. It imports pydantic, platformdirs and the standard library, no
other orgfeed package; every other package receives `Settings` (or the values it needs) as an argument.
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
