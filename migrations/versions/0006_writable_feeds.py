"""Writable feeds: a feed may accept OData writes, and names the geo a create goes to by default.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "feeds",
        sa.Column(
            "writable", sa.Boolean(), server_default=sa.text("false"), nullable=False, comment="accepts OData writes"
        ),
        schema="orgfeed",
    )
    op.add_column(
        "feeds",
        sa.Column(
            "default_geo",
            sa.String(length=63),
            nullable=True,
            comment="the geo a create without a geo property goes to",
        ),
        schema="orgfeed",
    )


def downgrade() -> None:
    op.drop_column("feeds", "default_geo", schema="orgfeed")
    op.drop_column("feeds", "writable", schema="orgfeed")
