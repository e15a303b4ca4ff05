"""The vault: customers, subjects, wrapped keys, blind index, sealed records, events, ledger.

Revision ID: 0002_vault
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_vault"
down_revision = "0000_base"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vault_customers",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("org_index", sa.LargeBinary(32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vault_customers"),
    )
    op.create_index("ix_vault_customers_org_index", "vault_customers", ["org_index"])
    op.create_table(
        "vault_subjects",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("restricted_reason", sa.String(200), nullable=True),
        sa.Column("erased_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["vault_customers.id"],
            name="fk_vault_subjects_customer_id_vault_customers",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_vault_subjects"),
    )
    op.create_index("ix_vault_subjects_customer_id", "vault_subjects", ["customer_id"])
    op.create_table(
        "vault_keys",
        sa.Column("id", sa.String(120), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("destroy_after", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["vault_subjects.id"],
            name="fk_vault_keys_subject_id_vault_subjects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_vault_keys"),
    )
    op.create_index("ix_vault_keys_subject_id", "vault_keys", ["subject_id"])
    op.create_index("ix_vault_keys_kek_id", "vault_keys", ["kek_id"])
    op.create_index("ix_vault_keys_destroy_after", "vault_keys", ["destroy_after"])
    op.create_table(
        "vault_identities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["vault_subjects.id"],
            name="fk_vault_identities_subject_id_vault_subjects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_vault_identities"),
        sa.UniqueConstraint("kind", "digest", name="uq_vault_identities_kind_digest"),
    )
    op.create_index("ix_vault_identities_subject_id", "vault_identities", ["subject_id"])
    op.create_table(
        "vault_records",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("key_ref", sa.String(80), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("hold_until", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["vault_subjects.id"],
            name="fk_vault_records_subject_id_vault_subjects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_vault_records"),
    )
    op.create_index("ix_vault_records_subject_id", "vault_records", ["subject_id"])
    op.create_table(
        "vault_events",
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["vault_subjects.id"],
            name="fk_vault_events_subject_id_vault_subjects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "event", name="pk_vault_events"),
    )
    op.create_index("ix_vault_events_event_at", "vault_events", ["event", "at"])
    op.create_table(
        "vault_erasures",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(32), nullable=False),
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("erased_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_vault_erasures"),
    )
    op.create_index("ix_vault_erasures_subject_id", "vault_erasures", ["subject_id"])


def downgrade() -> None:
    for table in (
        "vault_erasures",
        "vault_events",
        "vault_records",
        "vault_identities",
        "vault_keys",
        "vault_subjects",
        "vault_customers",
    ):
        op.drop_table(table)
