"""The field policy each mapping's rows were last fully loaded under, so a changed policy reloads them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "mappings",
        sa.Column(
            "field_policy",
            sa.Text(),
            nullable=True,
            comment="fingerprint of the hash/redact policy the stored rows were loaded under",
        ),
        schema="orgfeed",
    )


def downgrade() -> None:
    op.drop_column("mappings", "field_policy", schema="orgfeed")
