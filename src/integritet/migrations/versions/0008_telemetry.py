"""Telemetry: sites, machines, readings and hourly/daily aggregates (no personal data).

Revision ID: 0008_telemetry
Revises: 0000_base
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_telemetry"
down_revision = "0000_base"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "telemetry_sites",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_telemetry_sites"),
    )
    op.create_index("ix_telemetry_sites_customer_id", "telemetry_sites", ["customer_id"])
    op.create_table(
        "telemetry_machines",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("model", sa.String(120), nullable=True),
        sa.Column("serial", sa.String(120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_telemetry_machines"),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["telemetry_sites.id"],
            name="fk_telemetry_machines_site_id_telemetry_sites",
        ),
    )
    op.create_index("ix_telemetry_machines_customer_id", "telemetry_machines", ["customer_id"])
    op.create_index("ix_telemetry_machines_site_id", "telemetry_machines", ["site_id"])
    op.create_table(
        "telemetry_readings",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("machine_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("num", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_telemetry_readings"),
    )
    op.create_index("ix_telemetry_readings_machine_at", "telemetry_readings", ["machine_id", "at"])
    op.create_index("ix_telemetry_readings_at", "telemetry_readings", ["at"])
    op.create_table(
        "telemetry_aggregates",
        sa.Column("machine_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("num_count", sa.Integer(), nullable=False),
        sa.Column("min", sa.Float(), nullable=True),
        sa.Column("max", sa.Float(), nullable=True),
        sa.Column("sum", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "machine_id", "name", "period", "start", name="pk_telemetry_aggregates"
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["telemetry_machines.id"],
            name="fk_telemetry_aggregates_machine_id_telemetry_machines",
        ),
    )
    op.create_index("ix_telemetry_aggregates_start", "telemetry_aggregates", ["start"])


def downgrade() -> None:
    op.drop_table("telemetry_aggregates")
    op.drop_table("telemetry_readings")
    op.drop_table("telemetry_machines")
    op.drop_table("telemetry_sites")
