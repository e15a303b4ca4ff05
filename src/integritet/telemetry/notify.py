"""Alarms and status notifications (L9): only to contacts who chose that category and channel.

``kind`` is a consent purpose listed in ``telemetry.notifications`` (e.g. ``status``,
``reports``). The recipients are the vault subjects of the machine's customer; for each
channel the consent purpose offers, :meth:`ConsentLedger.may_contact` decides (no consent,
withdrawn consent and restricted subjects get nothing). Email goes through a
:class:`MailSender` (:class:`integritet.mail.Mailer` over SMTP); SMS and phone through a
:class:`Sender` provider — :class:`RecordingSender` is the local test double. Addresses are
read from the vault for the consent purpose's purpose (the vault audits the read); the
message itself is redacted of names, phone numbers, e-mail addresses and card data first.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.consent.ledger import ConsentLedger
from integritet.errors import AccessDenied, IntegritetError, TelemetryError
from integritet.mail import MailSender
from integritet.manifest.model import Channel, ConsentPurpose
from integritet.pii import redact
from integritet.telemetry.core import Telemetry
from integritet.telemetry.guard import NOTE_TYPES
from integritet.telemetry.results import Machine
from integritet.vault import Vault
from integritet.vault.tables import SubjectRow

ACTOR = Actor.system("telemetry.notify")
ADDRESS = {"email": "email", "sms": "phone", "phone": "phone"}  # channel -> identity kind


class Sender(Protocol):
    """An SMS or phone provider: deliver ``text`` to the number ``to``; return an id."""

    def send(self, to: str, text: str) -> str: ...


@dataclass
class RecordingSender:
    """A local provider that keeps ``(to, text)`` instead of sending (tests, demos)."""

    messages: list[tuple[str, str]] = field(default_factory=list)

    def send(self, to: str, text: str) -> str:
        self.messages.append((to, text))
        return secrets.token_hex(8)


@dataclass(frozen=True)
class Delivery:
    """One subject x channel: sent, skipped (with the consent reason) or failed."""

    subject: str  # pseudonymous id
    channel: str
    status: Literal["sent", "skipped", "failed"]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "channel": self.channel,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass
class NotifyResult:
    machine: str
    kind: str
    deliveries: list[Delivery] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for d in self.deliveries if d.status == status)

    @property
    def sent(self) -> int:
        return self.count("sent")

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "kind": self.kind,
            "sent": self.sent,
            "skipped": self.count("skipped"),
            "failed": self.count("failed"),
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


class Notifier:
    """Sends a machine's alarms and status to the customer's consenting contacts."""

    def __init__(
        self,
        telemetry: Telemetry,
        vault: Vault,
        consent: ConsentLedger,
        *,
        mailer: MailSender | None = None,
        senders: Mapping[str, Sender] | None = None,
        unsubscribe: Callable[[str, str, str], str] | None = None,
    ) -> None:
        """``unsubscribe(subject, consent purpose, channel)`` gives the one-click link that
        every email carries (``List-Unsubscribe``, Art. 7(3))."""
        self.telemetry = telemetry
        self.vault = vault
        self.consent = consent
        self.mailer = mailer
        self.senders = dict(senders or {})
        self.unsubscribe = unsubscribe

    def notify(self, machine: str, kind: str, message: str) -> NotifyResult:
        """Send ``message`` about ``machine`` as consent category ``kind``; see the module."""
        cp = self._purpose(kind)
        found = self.telemetry.machine(machine)
        text = redact(message, entities=(*self.telemetry.guard.refuse, *NOTE_TYPES))
        result = NotifyResult(machine, kind)
        for subject in self._contacts(found.customer):
            addresses: dict[str, str] | None = None
            for channel in cp.channels:
                decision = self.consent.may_contact(subject, kind, channel.value)
                if not decision:
                    result.deliveries.append(
                        Delivery(subject, channel.value, "skipped", decision.reason)
                    )
                    continue
                if addresses is None:
                    addresses = self._addresses(subject, cp)
                delivery = self._send(subject, channel, addresses, cp, found, text)
                result.deliveries.append(delivery)
        self.telemetry.emit(
            None, ACTOR, "telemetry.notify", "done", purpose=cp.purpose, customer=found.customer,
            detail={"machine": machine, "kind": kind, "sent": result.sent,
                    "skipped": result.count("skipped"), "failed": result.count("failed")},
        )  # fmt: skip
        return result

    def _purpose(self, kind: str) -> ConsentPurpose:
        allowed = self.telemetry.config.notifications
        if kind not in allowed:
            raise TelemetryError(
                f"{kind!r} is not a notification category "
                f"(telemetry.notifications: {', '.join(allowed) or 'none'})"
            )
        return self.telemetry.manifest.consent_purpose(kind)

    def _contacts(self, customer: str) -> list[str]:
        with Session(self.vault.engine) as s:
            return list(
                s.scalars(
                    select(SubjectRow.id)
                    .where(SubjectRow.customer_id == customer, SubjectRow.erased_at.is_(None))
                    .order_by(SubjectRow.created_at, SubjectRow.id)
                )
            )

    def _addresses(self, subject: str, cp: ConsentPurpose) -> dict[str, str]:
        try:
            return self.vault.identities(ACTOR, cp.purpose, subject)
        except AccessDenied:
            return {}

    def _send(
        self,
        subject: str,
        channel: Channel,
        addresses: dict[str, str],
        cp: ConsentPurpose,
        machine: Machine,
        text: str,
    ) -> Delivery:
        address = addresses.get(ADDRESS.get(channel.value, ""))
        if address is None:
            return Delivery(subject, channel.value, "skipped", f"no address for {channel.value}")
        try:
            if channel == Channel.email and self.mailer is not None:
                title, body = email_text(self.telemetry, cp, machine, text)
                link = self.unsubscribe(subject, cp.id, "email") if self.unsubscribe else None
                self.mailer.send(address, title, body, unsubscribe_url=link)
            elif channel.value in self.senders:
                self.senders[channel.value].send(address, short_text(cp, machine, text))
            else:
                return Delivery(subject, channel.value, "skipped", "no provider for the channel")
        except (IntegritetError, OSError) as exc:
            reason = exc.message if isinstance(exc, IntegritetError) else type(exc).__name__
            return Delivery(subject, channel.value, "failed", reason)
        return Delivery(subject, channel.value, "sent", "consent given")


def _label(machine: Machine) -> str:
    return f"{machine.id} ({machine.model})" if machine.model else machine.id


def short_text(cp: ConsentPurpose, machine: Machine, text: str) -> str:
    """An SMS / phone message: category, machine and message, Swedish then English."""
    return f"{cp.name.sv} / {cp.name.en} - {_label(machine)}: {text}"


def email_text(
    telemetry: Telemetry, cp: ConsentPurpose, machine: Machine, text: str
) -> tuple[str, str]:
    """Subject line and body in Swedish and English, saying why the person gets it."""
    manifest = telemetry.manifest
    name = manifest.controller.service or manifest.controller.name
    page = manifest.rights.settings_page
    where_sv = f" under {page.sv}" if page else ""
    where_en = f" under {page.en}" if page else ""
    subject = f"{cp.name.sv} / {cp.name.en}: {machine.id}"
    body = (
        f"Hej!\n\n{name} meddelar om {_label(machine)}:\n\n{text}\n\n"
        f"Du får detta eftersom du har valt »{cp.name.sv}« via e-post. Du kan ändra ditt "
        f"val när som helst{where_sv}.\n\n---\n\n"
        f"Hello,\n\n{name} reports on {_label(machine)}:\n\n{text}\n\n"
        f"You receive this because you chose “{cp.name.en}” by email. You can change your "
        f"choice at any time{where_en}.\n"
    )
    return subject, body
