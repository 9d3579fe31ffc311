"""Feeds scoped to geos and columns: the feed's rows and columns, enforced by views in a schema of the feed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "feeds",
        sa.Column(
            "geos",
            postgresql.ARRAY(sa.Text()),
            nullable=True,
            comment="the geos whose rows the feed serves; null: every geo",
        ),
        schema="orgfeed",
    )
    op.add_column(
        "feeds",
        sa.Column(
            "hidden",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
            comment="view.column entries not served",
        ),
        schema="orgfeed",
    )


def downgrade() -> None:
    op.drop_column("feeds", "hidden", schema="orgfeed")
    op.drop_column("feeds", "geos", schema="orgfeed")
