"""The orgfeed schema: org state, mapping watermarks, sync runs and log, feeds, credentials, access log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 17:15:02.670888
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("feed", sa.String(length=63), nullable=True),
        sa.Column("username", sa.String(length=63), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("entity_set", sa.String(length=63), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("access_log_pkey")),
        schema="orgfeed",
        comment="One row per OData request.",
    )
    op.create_index(op.f("access_log_at_idx"), "access_log", ["at"], unique=False, schema="orgfeed")
    op.create_table(
        "feeds",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("views", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("role_name", sa.String(length=63), nullable=True, comment="the database role the feed reads through"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("feeds_pkey")),
        schema="orgfeed",
        comment="OData service roots /odata/v4/<name>/.",
    )
    op.create_table(
        "orgs",
        sa.Column(
            "name", sa.String(length=63), nullable=False, comment="the org's name in orgfeed.toml, also its schema"
        ),
        sa.Column(
            "org_id",
            sa.String(length=18),
            nullable=True,
            comment="Salesforce organization id; a schema never takes rows from another org",
        ),
        sa.Column("suspended", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "throttled_until",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="API budget reached: skipped until then",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("orgs_pkey")),
        schema="orgfeed",
        comment="One row per configured org: identity and suspension.",
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'running'"), nullable=False),
        sa.Column("full", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("rows_upserted", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("rows_tombstoned", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("api_calls", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "status in ('running', 'succeeded', 'failed', 'interrupted')", name=op.f("sync_runs_status_check")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("sync_runs_pkey")),
        schema="orgfeed",
        comment="One row per `orgfeed sync` run.",
    )
    op.create_table(
        "feed_credentials",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("feed", sa.String(length=63), nullable=False),
        sa.Column("username", sa.String(length=63), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False, comment="scrypt; the password itself is never stored"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="set on reset: the old password works until then",
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["feed"], ["orgfeed.feeds.name"], name=op.f("feed_credentials_feed_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("feed_credentials_pkey")),
        schema="orgfeed",
        comment="Basic auth credentials per feed.",
    )
    op.create_index(
        op.f("feed_credentials_feed_username_idx"),
        "feed_credentials",
        ["feed", "username"],
        unique=False,
        schema="orgfeed",
    )
    op.create_table(
        "mappings",
        sa.Column("org", sa.String(length=63), nullable=False),
        sa.Column("sobject", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=32), server_default=sa.text("'new'"), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True, comment="largest SystemModstamp committed"),
        sa.Column(
            "describe_modified",
            sa.String(length=64),
            nullable=True,
            comment="Last-Modified of the describe last applied",
        ),
        sa.Column("mapped_fields", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("salesforce_rows", sa.BigInteger(), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_reconcile_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["org"], ["orgfeed.orgs.name"], name=op.f("mappings_org_fkey"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org", "sobject", name=op.f("mappings_pkey")),
        schema="orgfeed",
        comment="Per (org, object): sync state and the watermark, written in the same transaction as the rows.",
    )
    op.create_table(
        "sync_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("org", sa.String(length=63), nullable=False),
        sa.Column("sobject", sa.String(length=80), nullable=True),
        sa.Column(
            "record_id", sa.String(length=18), nullable=True, comment="the Salesforce record id, where one applies"
        ),
        sa.Column(
            "action", sa.String(length=32), nullable=False, comment="Load, Upsert, Delete, Describe, Reconcile, ..."
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status in ('Retrying', 'Failed', 'Resolved', 'Succeeded', 'Warning', 'Throttled')",
            name=op.f("sync_log_status_check"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["orgfeed.sync_runs.id"], name=op.f("sync_log_run_id_fkey"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("sync_log_pkey")),
        schema="orgfeed",
        comment="Entries after Salesforce Organization Sync's log.",
    )
    op.create_index(op.f("sync_log_logged_at_idx"), "sync_log", ["logged_at"], unique=False, schema="orgfeed")
    op.create_index(
        op.f("sync_log_org_sobject_logged_at_idx"),
        "sync_log",
        ["org", "sobject", "logged_at"],
        unique=False,
        schema="orgfeed",
    )
    op.create_table(
        "sync_run_objects",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("org", sa.String(length=63), nullable=False),
        sa.Column("sobject", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), server_default=sa.text("'running'"), nullable=False),
        sa.Column("rows_upserted", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("rows_tombstoned", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("api_calls", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status in ('running', 'succeeded', 'failed', 'interrupted')", name=op.f("sync_run_objects_status_check")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["orgfeed.sync_runs.id"], name=op.f("sync_run_objects_run_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "org", "sobject", name=op.f("sync_run_objects_pkey")),
        schema="orgfeed",
        comment="What one run did for one (org, object).",
    )


def downgrade() -> None:
    op.drop_table("sync_run_objects", schema="orgfeed")
    op.drop_index(op.f("sync_log_org_sobject_logged_at_idx"), table_name="sync_log", schema="orgfeed")
    op.drop_index(op.f("sync_log_logged_at_idx"), table_name="sync_log", schema="orgfeed")
    op.drop_table("sync_log", schema="orgfeed")
    op.drop_table("mappings", schema="orgfeed")
    op.drop_index(op.f("feed_credentials_feed_username_idx"), table_name="feed_credentials", schema="orgfeed")
    op.drop_table("feed_credentials", schema="orgfeed")
    op.drop_table("sync_runs", schema="orgfeed")
    op.drop_table("orgs", schema="orgfeed")
    op.drop_table("feeds", schema="orgfeed")
    op.drop_index(op.f("access_log_at_idx"), table_name="access_log", schema="orgfeed")
    op.drop_table("access_log", schema="orgfeed")
