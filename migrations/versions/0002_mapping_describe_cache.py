"""The last describe of each mapping, so the next one can ask If-Modified-Since and reuse it on a 304.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 18:20:02.784442
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "mappings",
        sa.Column(
            "describe_body",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="that describe, reused when Salesforce answers 304 Not Modified",
        ),
        schema="orgfeed",
    )


def downgrade() -> None:
    op.drop_column("mappings", "describe_body", schema="orgfeed")
