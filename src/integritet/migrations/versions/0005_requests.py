"""Data-subject requests: requests, steps, history, codes, recipient tasks, suppression, receipts.

Revision ID: 0005_requests
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_requests"
down_revision = "0000_base"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _fk(name: str) -> sa.ForeignKey:
    return sa.ForeignKey("dsr_request.id", name=name, ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "dsr_request",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64)),
        sa.Column("identity_kind", sa.String(20), nullable=False),
        sa.Column("identity_blind", sa.String(64)),
        sa.Column("contact_sealed", sa.LargeBinary()),
        sa.Column("identities_sealed", sa.LargeBinary()),
        sa.Column("payload_sealed", sa.LargeBinary()),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("extended_until", TS),
        sa.Column("extension_reason_sealed", sa.LargeBinary()),
        sa.Column("verified_by", sa.String(120)),
        sa.Column("verification_note_sealed", sa.LargeBinary()),
        sa.Column("confirmed_by", sa.String(120)),
        sa.Column("rejection_sealed", sa.LargeBinary()),
        sa.Column("rejection_exception", sa.String(40)),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("completed_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_dsr_request"),
    )
    for col in ("kind", "status", "subject_id", "identity_blind", "deadline"):
        op.create_index(f"ix_dsr_request_{col}", "dsr_request", [col])
    op.create_table(
        "dsr_step",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "request_id", sa.String(32), _fk("fk_dsr_step_request_id_dsr_request"), nullable=False
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("result", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_dsr_step"),
        sa.UniqueConstraint("request_id", "name", name="uq_dsr_step_request_id"),
    )
    op.create_table(
        "dsr_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "request_id",
            sa.String(32),
            _fk("fk_dsr_history_request_id_dsr_request"),
            nullable=False,
        ),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("audit_position", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_dsr_history"),
    )
    op.create_index("ix_dsr_history_request_id", "dsr_history", ["request_id"])
    op.create_table(
        "dsr_code",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "request_id", sa.String(32), _fk("fk_dsr_code_request_id_dsr_request"), nullable=False
        ),
        sa.Column("identity_blind", sa.String(64)),
        sa.Column("purpose", sa.String(12), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_dsr_code"),
    )
    for col in ("request_id", "identity_blind", "created_at"):
        op.create_index(f"ix_dsr_code_{col}", "dsr_code", [col])
    op.create_table(
        "dsr_recipient",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "request_id",
            sa.String(32),
            _fk("fk_dsr_recipient_request_id_dsr_request"),
            nullable=False,
        ),
        sa.Column("recipient_id", sa.String(64), nullable=False),
        sa.Column("method", sa.String(12), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("delivery_id", sa.String(64)),
        sa.Column("note_sealed", sa.LargeBinary()),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dsr_recipient"),
        sa.UniqueConstraint("request_id", "recipient_id", name="uq_dsr_recipient_request_id"),
    )
    op.create_table(
        "dsr_suppression",
        sa.Column("blind", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("request_id", sa.String(32)),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("blind", name="pk_dsr_suppression"),
    )
    op.create_table(
        "dsr_receipt",
        sa.Column(
            "request_id",
            sa.String(32),
            _fk("fk_dsr_receipt_request_id_dsr_request"),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_dsr_receipt"),
    )


def downgrade() -> None:
    for table in (
        "dsr_receipt",
        "dsr_suppression",
        "dsr_recipient",
        "dsr_code",
        "dsr_history",
        "dsr_step",
        "dsr_request",
    ):
        op.drop_table(table)
