"""Retention's own tables: surviving aggregates and the warnings already sent.

- ``retention_aggregates``: counts kept when a rule with ``action: anonymise`` removes data
  (``count_per_month``: bucket ``YYYY-MM`` of the record's creation; ``count_per_region``:
  the record's region). Rule id, category, kind, bucket and a count: nothing that points
  back to a person, so anonymisation is irreversible.
- ``retention_warnings``: one row per subject, rule and anchor time whose "will be deleted"
  notice was sent, so it is sent once (a new anchor, e.g. a new sign-in, starts a new cycle).
  Rows go when the subject is erased.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integritet.db import Base


class AggregateRow(Base):
    __tablename__ = "retention_aggregates"
    __table_args__ = (
        UniqueConstraint(
            "rule_id", "category", "kind", "bucket", name="uq_retention_aggregates_key"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    bucket: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)


class WarningRow(Base):
    __tablename__ = "retention_warnings"

    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    anchor_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
