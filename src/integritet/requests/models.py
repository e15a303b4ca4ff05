"""Tables of the data-subject request engine.

Nothing here holds personal data in plaintext: identities are blind-indexed
(HMAC) for lookup and sealed (AES-256-GCM) where the engine must read them back
(the contact address for codes and notices, corrections, staff notes). Subjects
are named by their pseudonymous vault id only. Migration: ``0005_requests``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from integritet.db import Base

UTCDateTime = DateTime(timezone=True)


class RequestRow(Base):
    """One data-subject request and where it stands."""

    __tablename__ = "dsr_request"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    subject_id: Mapped[str | None] = mapped_column(String(64), index=True)
    identity_kind: Mapped[str] = mapped_column(String(20))
    identity_blind: Mapped[str | None] = mapped_column(String(64), index=True)
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    identities_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    policy_version: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    extended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_reason_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    verified_by: Mapped[str | None] = mapped_column(String(120))
    verification_note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    confirmed_by: Mapped[str | None] = mapped_column(String(120))
    rejection_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    rejection_exception: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StepRow(Base):
    """One unit of work of a request, persisted before (running) and after (done) it runs."""

    __tablename__ = "dsr_step"
    __table_args__ = (UniqueConstraint("request_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("dsr_request.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(12))  # pending, running, done
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class HistoryRow(Base):
    """Every state transition (also written to the audit log)."""

    __tablename__ = "dsr_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("dsr_request.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    audit_position: Mapped[int | None] = mapped_column(Integer)


class CodeRow(Base):
    """A one-time code sent by email; only its hash is stored."""

    __tablename__ = "dsr_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey("dsr_request.id", ondelete="CASCADE"), index=True
    )
    identity_blind: Mapped[str | None] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(12))  # verify, confirm
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecipientTaskRow(Base):
    """Telling one recipient about one request (Art. 19), tracked to confirmation."""

    __tablename__ = "dsr_recipient"
    __table_args__ = (UniqueConstraint("request_id", "recipient_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("dsr_request.id", ondelete="CASCADE"))
    recipient_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(12))  # webhook, email, manual
    status: Mapped[str] = mapped_column(String(12))  # pending, sent, confirmed, waived
    idempotency_key: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str | None] = mapped_column(String(64))
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SuppressionRow(Base):
    """An identity that objected to direct marketing (Art. 21(3)): never contact for marketing."""

    __tablename__ = "dsr_suppression"

    blind: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReceiptRow(Base):
    """A signed erasure receipt (pseudonymous; JSON body plus Ed25519 signature)."""

    __tablename__ = "dsr_receipt"

    request_id: Mapped[str] = mapped_column(
        ForeignKey("dsr_request.id", ondelete="CASCADE"), primary_key=True
    )
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    public_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
