"""The `orgfeed` schema: orgfeed's own state, as SQLAlchemy Core tables.

alembic (migrations/) owns this schema and only this one; a test checks that the migrations
and these tables agree. Mirrored org tables and generated views live elsewhere.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, OID

SCHEMA = "orgfeed"

# Statuses of the sync log, after Salesforce Organization Sync's log, plus Warning (drift,
# skipped fields) and Throttled (an org paused by its API budget).
LOG_STATUSES = ("Retrying", "Failed", "Resolved", "Succeeded", "Warning", "Throttled")
RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")

metadata = MetaData(
    schema=SCHEMA,
    naming_convention={
        "ix": "%(table_name)s_%(column_0_N_name)s_idx",
        "uq": "%(table_name)s_%(column_0_N_name)s_key",
        "ck": "%(table_name)s_%(constraint_name)s_check",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
        "pk": "%(table_name)s_pkey",
    },
)


def _now() -> Column:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


orgs = Table(
    "orgs",
    metadata,
    Column("name", String(63), primary_key=True, comment="the org's name in orgfeed.toml, also its schema"),
    Column("org_id", String(18), comment="Salesforce organization id; a schema never takes rows from another org"),
    Column("suspended", Boolean, nullable=False, server_default=text("false")),
    Column("suspended_at", DateTime(timezone=True)),
    Column("throttled_until", DateTime(timezone=True), comment="API budget reached: skipped until then"),
    _now(),
    comment="One row per configured org: identity and suspension.",
)

mappings = Table(
    "mappings",
    metadata,
    Column("org", String(63), ForeignKey("orgs.name", ondelete="CASCADE"), primary_key=True),
    Column("sobject", String(80), primary_key=True),
    Column("status", String(32), nullable=False, server_default=text("'new'")),
    Column("watermark", DateTime(timezone=True), comment="largest SystemModstamp committed"),
    Column("describe_modified", String(64), comment="Last-Modified of the describe last applied"),
    Column("describe_body", JSONB, comment="that describe, reused when Salesforce answers 304 Not Modified"),
    Column("field_policy", Text, comment="fingerprint of the hash/redact policy the stored rows were loaded under"),
    Column("mapped_fields", Integer, nullable=False, server_default=text("0")),
    Column("salesforce_rows", BigInteger),
    Column("last_sync_at", DateTime(timezone=True)),
    Column("last_full_sync_at", DateTime(timezone=True)),
    Column("last_reconcile_at", DateTime(timezone=True)),
    Column("last_error", Text),
    _now(),
    comment="Per (org, object): sync state and the watermark, written in the same transaction as the rows.",
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False, server_default=text("'running'")),
    Column("full", Boolean, nullable=False, server_default=text("false")),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("rows_upserted", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_tombstoned", BigInteger, nullable=False, server_default=text("0")),
    Column("api_calls", Integer, nullable=False, server_default=text("0")),
    CheckConstraint(f"status in {RUN_STATUSES!r}", name="status"),
    comment="One row per `orgfeed sync` run.",
)

sync_run_objects = Table(
    "sync_run_objects",
    metadata,
    Column("run_id", BigInteger, ForeignKey("sync_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("org", String(63), primary_key=True),
    Column("sobject", String(80), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False, server_default=text("'running'")),
    Column("rows_upserted", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_tombstoned", BigInteger, nullable=False, server_default=text("0")),
    Column("api_calls", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    CheckConstraint(f"status in {RUN_STATUSES!r}", name="status"),
    comment="What one run did for one (org, object).",
)

sync_log = Table(
    "sync_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("logged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("run_id", BigInteger, ForeignKey("sync_runs.id", ondelete="SET NULL")),
    Column("org", String(63), nullable=False),
    Column("sobject", String(80)),
    Column("record_id", String(18), comment="the Salesforce record id, where one applies"),
    Column("action", String(32), nullable=False, comment="Load, Upsert, Delete, Describe, Reconcile, ..."),
    Column("status", String(16), nullable=False),
    Column("error_code", String(64)),
    Column("message", Text),
    CheckConstraint(f"status in {LOG_STATUSES!r}", name="status"),
    Index(None, "logged_at"),
    Index(None, "org", "sobject", "logged_at"),
    comment="Entries after Salesforce Organization Sync's log.",
)

feeds = Table(
    "feeds",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("views", ARRAY(Text), nullable=False),
    Column("role_name", String(63), comment="the database role the feed reads through"),
    Column("geos", ARRAY(Text), comment="the geos whose rows the feed serves; null: every geo"),
    Column(
        "hidden", ARRAY(Text), nullable=False, server_default=text("'{}'"), comment="view.column entries not served"
    ),
    Column("writable", Boolean, nullable=False, server_default=text("false"), comment="accepts OData writes"),
    Column("default_geo", String(63), comment="the geo a create without a geo property goes to"),
    _now(),
    comment="OData service roots /odata/v4/<name>/.",
)

feed_credentials = Table(
    "feed_credentials",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("feed", String(63), ForeignKey("feeds.name", ondelete="CASCADE"), nullable=False),
    Column("username", String(63), nullable=False),
    Column("password_hash", Text, nullable=False, comment="scrypt; the password itself is never stored"),
    _now(),
    Column("expires_at", DateTime(timezone=True), comment="set on reset: the old password works until then"),
    Column("revoked_at", DateTime(timezone=True)),
    Index(None, "feed", "username"),
    comment="Basic auth credentials per feed.",
)

access_log = Table(
    "access_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("feed", String(63)),
    Column("username", String(63)),
    Column("client", String(64)),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    Column("entity_set", String(63)),
    Column("rows", Integer),
    Column("status", Integer, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Index(None, "at"),
    comment="One row per OData request.",
)

streams = Table(
    "streams",
    metadata,
    Column("org", String(63), ForeignKey("orgs.name", ondelete="CASCADE"), primary_key=True),
    Column("sobject", String(80), primary_key=True),
    Column("topic", String(255), nullable=False, comment="the change channel, e.g. /data/AccountChangeEvent"),
    Column("replay_id", LargeBinary, comment="opaque Pub/Sub replay id after the last committed batch"),
    Column("state", String(32), nullable=False, server_default=text("'starting'")),
    Column("last_change_at", DateTime(timezone=True), comment="commitTimestamp of the last change applied"),
    Column("last_applied_at", DateTime(timezone=True), comment="when that change was committed here"),
    Column("events_applied", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    comment="Per streamed (org, object): the Pub/Sub replay id, committed with the rows of each batch of events.",
)

# Live-row counts (migration 0007 also creates the trigger function, the functions and the view over these).
live_rows = Table(
    "live_rows",
    metadata,
    Column("relid", OID, nullable=False, comment="the counted table (pg_class oid)"),
    Column("live", BigInteger, nullable=False, comment="change in rows with isdeleted not true"),
    Column("live_with_sfid", BigInteger, nullable=False, comment="same, counting only rows with an sfid"),
    Column("exact", Boolean, nullable=False, server_default=text("true")),
    Index(None, "relid"),
    comment="Live-row count deltas per table, written by orgfeed.count_live_rows in the writers' transactions.",
)

live_row_tables = Table(
    "live_row_tables",
    metadata,
    Column("relid", OID, primary_key=True),
    Column("triggers", ARRAY(Text), nullable=False, comment="name:xmin of its counting triggers when the count began"),
    Column("tracked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    comment="Tables whose live rows are counted by triggers (orgfeed.track_live_rows).",
)

view_counts = Table(
    "view_counts",
    metadata,
    Column("view_schema", Text, primary_key=True),
    Column("view_name", Text, primary_key=True),
    Column("definition_md5", Text, nullable=False, comment="md5 of pg_get_viewdef when registered"),
    Column("rule_version", Text, nullable=False, comment="xmin,ctid of its pg_rewrite row then"),
    Column("table_schemas", ARRAY(Text), nullable=False, comment="each branch's schema, in order"),
    Column("table_names", ARRAY(Text), nullable=False, comment="each branch's table, in order"),
    Column("geos", ARRAY(Text), nullable=False, comment="each branch's geo, in order"),
    Column("id_not_null", Boolean, nullable=False, comment="the view also requires an sfid"),
    Column("registered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    comment="Union views whose row count is the sum of their branches' live rows (generated views).",
)
