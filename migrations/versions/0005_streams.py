"""Streaming state per (org, object): the Pub/Sub replay id committed with each batch of change events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "streams",
        sa.Column("org", sa.String(63), nullable=False),
        sa.Column("sobject", sa.String(80), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False, comment="the change channel, e.g. /data/AccountChangeEvent"),
        sa.Column("replay_id", sa.LargeBinary(), comment="opaque Pub/Sub replay id after the last committed batch"),
        sa.Column("state", sa.String(32), nullable=False, server_default=sa.text("'starting'")),
        sa.Column("last_change_at", sa.DateTime(timezone=True), comment="commitTimestamp of the last change applied"),
        sa.Column("last_applied_at", sa.DateTime(timezone=True), comment="when that change was committed here"),
        sa.Column("events_applied", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.ForeignKeyConstraint(["org"], ["orgfeed.orgs.name"], name=op.f("streams_org_fkey"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org", "sobject", name=op.f("streams_pkey")),
        schema="orgfeed",
        comment="Per streamed (org, object): the Pub/Sub replay id, committed with the rows of each batch of events.",
    )


def downgrade() -> None:
    op.drop_table("streams", schema="orgfeed")
