"""The vault's tables. No column holds a personal value in plaintext.

- ``vault_customers``: customer organisations (B2B tenancy). The org number is kept only
  as a blind index (a sole trader's org number is a personnummer).
- ``vault_subjects``: random pseudonymous ids, the customer they belong to, restriction.
- ``vault_keys``: wrapped keys (the blind-index key, each subject's DEK, hold keys) with
  the id of the KEK that wrapped them and, for hold keys, the destroy-after date.
- ``vault_identities``: blind index (HMAC) plus the value sealed under the subject's DEK.
- ``vault_records``: sealed fields per category; ``key_ref`` names the key (``dek`` or a
  legal-hold id).
- ``vault_events``: retention anchors (last_login, contract_end...) as plain timestamps.
- ``vault_erasures``: the erasure ledger (pseudonymous ids and category ids only).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from integritet.db import Base

ID = 32  # hex of 16 random bytes


class CustomerRow(Base):
    __tablename__ = "vault_customers"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SubjectRow(Base):
    __tablename__ = "vault_subjects"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("vault_customers.id"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    restricted_reason: Mapped[str | None] = mapped_column(String(200))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KeyRow(Base):
    __tablename__ = "vault_keys"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    subject_id: Mapped[str | None] = mapped_column(
        ForeignKey("vault_subjects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(80))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(64), index=True)
    destroy_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdentityRow(Base):
    __tablename__ = "vault_identities"
    __table_args__ = (UniqueConstraint("kind", "digest", name="uq_vault_identities_kind_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("vault_subjects.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class RecordRow(Base):
    __tablename__ = "vault_records"

    id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(
        ForeignKey("vault_subjects.id", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    key_ref: Mapped[str] = mapped_column(String(80))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    policy_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hold_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EventRow(Base):
    __tablename__ = "vault_events"
    __table_args__ = (Index("ix_vault_events_event_at", "event", "at"),)

    subject_id: Mapped[str] = mapped_column(
        ForeignKey("vault_subjects.id", ondelete="CASCADE"), primary_key=True
    )
    event: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ErasureRow(Base):
    __tablename__ = "vault_erasures"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(String(ID), index=True)
    categories: Mapped[str | None] = mapped_column(Text)  # JSON list; NULL = whole subject
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def table(model: type[Base]) -> Table:
    """The Core table of a model, for multi-row inserts (typed for mypy)."""
    return cast(Table, model.__table__)
