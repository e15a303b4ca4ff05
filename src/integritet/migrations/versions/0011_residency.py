"""Residency: the storage location each customer chose among the declared ones (J14, V8).

Revision ID: 0011_residency
Revises: 0000_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_residency"
down_revision = "0000_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_locations",
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("location", sa.String(64), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chosen_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_customer_locations"),
    )


def downgrade() -> None:
    op.drop_table("customer_locations")
