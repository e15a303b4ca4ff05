"""Retention: aggregates kept by anonymisation, warnings already sent.

Revision ID: 0007_retention
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_retention"
down_revision = "0000_base"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "retention_aggregates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("bucket", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retention_aggregates"),
        sa.UniqueConstraint(
            "rule_id", "category", "kind", "bucket", name="uq_retention_aggregates_key"
        ),
    )
    op.create_table(
        "retention_warnings",
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("anchor_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "rule_id", "anchor_at", name="pk_retention_warnings"),
    )


def downgrade() -> None:
    op.drop_table("retention_warnings")
    op.drop_table("retention_aggregates")
