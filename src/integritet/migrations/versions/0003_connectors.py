"""Connectors: the durable webhook outbox (``webhook_deliveries``).

Revision ID: 0003_connectors
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0003_connectors"
down_revision = "0000_base"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("recipient_id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("signature", sa.String(80), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("created_at", nullable=False),
        _when("next_attempt_at"),
        _when("deadline_at", nullable=False),
        _when("last_attempt_at"),
        _when("delivered_at"),
        _when("confirmed_at"),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("status_url", sa.String(2048), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("idempotency_key", name="uq_webhook_deliveries_idempotency_key"),
    )
    op.create_index("ix_webhook_deliveries_recipient_id", "webhook_deliveries", ["recipient_id"])
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_recipient_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
