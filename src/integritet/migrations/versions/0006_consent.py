"""Consent ledger, derived current state, re-consent markers, policy versions and notices.

Revision ID: 0006_consent
Revises: 0000_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_consent"
down_revision = "0000_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("sealed_evidence", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_consent_events"),
        sa.UniqueConstraint("id", name="uq_consent_events_id"),
    )
    op.create_index("ix_consent_events_subject_id", "consent_events", ["subject_id"])
    op.create_table(
        "consent_current",
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "purpose", "channel", name="pk_consent_current"),
    )
    op.create_index("ix_consent_current_purpose", "consent_current", ["purpose", "state"])
    op.create_table(
        "consent_reconsent",
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("since_version", sa.String(64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("purpose", name="pk_consent_reconsent"),
    )

    op.create_table(
        "policy_versions",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective", sa.String(10), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("manifest_json", sa.Text(), nullable=False),
        sa.Column("html_sv", sa.Text(), nullable=False),
        sa.Column("html_en", sa.Text(), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_policy_versions"),
        sa.UniqueConstraint("version", name="uq_policy_versions_version"),
    )
    op.create_table(
        "policy_notices",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("version", "subject_id", name="pk_policy_notices"),
    )


def downgrade() -> None:
    op.drop_table("policy_notices")
    op.drop_table("policy_versions")
    op.drop_table("consent_reconsent")
    op.drop_index("ix_consent_current_purpose", table_name="consent_current")
    op.drop_table("consent_current")
    op.drop_index("ix_consent_events_subject_id", table_name="consent_events")
    op.drop_table("consent_events")
