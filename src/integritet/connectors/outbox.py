"""The ``webhook_deliveries`` table behind :class:`integritet.connectors.webhook.WebhookOutbox`.

One row per notification. The body is stored sealed (AES-256-GCM) and dropped once the
recipient has it; the idempotency key is unique, so queuing the same notification twice
yields one row. Created by migration ``0003_connectors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from integritet.clock import utc
from integritet.db import Base


class Status(StrEnum):
    pending = "pending"  # to be sent (or re-sent after a failure)
    polling = "polling"  # accepted (202); its status URL is polled
    delivered = "delivered"  # accepted (202); waiting for the recipient's callback
    confirmed = "confirmed"  # the recipient said it is done
    failed = "failed"  # gave up at the deadline or the recipient reported failure


class DeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    signature: Mapped[str | None] = mapped_column(String(80))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(200))
    status_url: Mapped[str | None] = mapped_column(String(2048))


def _aware(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


@dataclass(frozen=True)
class Delivery:
    """A snapshot of one delivery, without its body (for staff screens and the API)."""

    id: str
    recipient_id: str
    url: str
    idempotency_key: str
    status: Status
    attempts: int
    created_at: datetime
    deadline_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    confirmed_at: datetime | None
    last_error: str | None
    status_url: str | None

    @classmethod
    def of(cls, row: DeliveryRow) -> Delivery:
        return cls(
            id=row.id,
            recipient_id=row.recipient_id,
            url=row.url,
            idempotency_key=row.idempotency_key,
            status=Status(row.status),
            attempts=row.attempts,
            created_at=utc(row.created_at),
            deadline_at=utc(row.deadline_at),
            next_attempt_at=_aware(row.next_attempt_at),
            delivered_at=_aware(row.delivered_at),
            confirmed_at=_aware(row.confirmed_at),
            last_error=row.last_error,
            status_url=row.status_url,
        )
