"""Base revision: an empty schema. Each feature's tables come in its own revision.

Revision ID: 0000_base
"""

from __future__ import annotations

revision = "0000_base"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
