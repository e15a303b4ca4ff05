"""What the request engine needs from its neighbours, as small protocols.

The vault (:mod:`integritet.vault`), the audit log (:mod:`integritet.audit`), the
mailer (:mod:`integritet.mail`) and the webhook outbox (:mod:`integritet.connectors.webhook`)
are built alongside; the engine depends only on these shapes, so each can be
replaced by its real implementation or, in a unit test, by a small fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.mail import MailSender

Detail = Mapping[str, str | int | float | bool | None]


MailerPort = MailSender  # the request engine's name for it


class RecordLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, Any]: ...
    @property
    def source(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def policy_version(self) -> str | None: ...


class VaultPort(Protocol):
    def find_subject(self, actor: Actor, purpose: str, kind: str, value: str) -> str | None: ...
    def records(
        self,
        actor: Actor,
        purpose: str,
        subject_id: str,
        category: str | None = None,
        *,
        rights_request: str | None = None,
    ) -> list[Any]: ...
    def update_record(
        self, actor: Actor, purpose: str, record_id: str, fields: Mapping[str, Any]
    ) -> None: ...
    def identities(
        self, actor: Actor, purpose: str, subject_id: str, *, rights_request: str | None = None
    ) -> dict[str, str]: ...
    def restrict(self, actor: Actor, subject_id: str, reason: str) -> None: ...
    def lift_restriction(self, actor: Actor, subject_id: str) -> None: ...
    def is_restricted(self, subject_id: str) -> bool: ...
    def erase(self, actor: Actor, purpose: str, subject_id: str) -> Any: ...


class AuditPort(Protocol):
    """Writes one audit event; ``session`` given: inside the caller's transaction."""

    def record(
        self,
        session: Session | None,
        *,
        actor: str,
        action: str,
        outcome: str,
        subject: str | None = None,
        detail: Detail | None = None,
    ) -> int: ...


class OutboxPort(Protocol):
    def enqueue(
        self,
        recipient_id: str,
        url: str,
        secret: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
    ) -> str: ...
    def deliver_due(self) -> int: ...
    def is_confirmed(self, delivery_id: str) -> bool: ...
