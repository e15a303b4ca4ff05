"""Handing a person's data to a recipient, checked against the manifest at run time.

``Disclosures.disclose`` is the one way data leaves integritet for a named recipient
(an installer, a processor, an authority). Before anything is read it checks:

- C5: a financial category never goes to a recipient with ``financial_data: false``, nor
  to an authority that is not ``required_by_law`` (as the ``financial-to-recipient`` lint);
- L7: the recipient is declared to receive every asked category for the asked purpose,
  and a recipient with ``consent_purpose`` only with the person's consent (given on one of
  that consent purpose's channels, as :meth:`ConsentLedger.may_contact` decides);
- J6: a ``required_by_law`` recipient needs a legal-basis note; the disclosure is recorded
  as a legal one (the note is sealed under the person's own key: erased with them);
- the actor may read the categories for the purpose and the person is not restricted.

L5 (``notify_before_sharing``): the person is emailed the recipient's name (Swedish and
English) and the data is read only after the mail server accepted that notice. The design
is synchronous on purpose: one call notifies, then releases; if the notice cannot be sent,
nothing is released and the refusal is audited. There is no pending state to forget.

Every disclosure is audited (recipient id, categories, counts; never values) and kept in
the ``disclosures`` table, so an access report can list who received the person's data
(:meth:`Disclosures.received_by`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Boolean, DateTime, Engine, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, mapped_column

from integritet.access import Actor, check
from integritet.audit import AuditEvent
from integritet.audit.chain import DetailValue
from integritet.clock import Clock, SystemClock, utc
from integritet.db import Base
from integritet.errors import AccessDenied, DisclosureRefused
from integritet.mail import MailSender
from integritet.manifest import Manifest
from integritet.manifest.model import CategoryKind, Recipient, RecipientRole
from integritet.vault import Record, Vault
from integritet.vault import crypto as vault_crypto

LANGS = ("sv", "en")
NOTICE_SUBJECT = "Vi lämnar dina uppgifter till {name} / We are sharing your details with {name}"
NOTICE_TEXT = (
    "Hej!\n\n{controller} lämnar nu {categories_sv} till {name}{what_sv}, för ändamålet "
    "{purpose_sv}.\n\n"
    "Hello,\n\n{controller} is now sharing {categories_en} with {name}{what_en}, for the "
    "purpose {purpose_en}.\n\n"
    "Frågor? / Questions? {contact}\n"
)


class ConsentPort(Protocol):
    def may_contact(self, subject_id: str, purpose: str, channel: str) -> Any: ...


class DisclosureRow(Base):
    """One disclosure. Pseudonymous ids only; the legal-basis note is sealed."""

    __tablename__ = "disclosures"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    categories: Mapped[str] = mapped_column(String(500))
    records: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    legal: Mapped[bool] = mapped_column(Boolean)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class Disclosure:
    """A disclosure that happened: to whom, what, on which basis, and the data released."""

    id: str
    at: datetime
    subject_id: str
    recipient: str
    recipient_name: str
    purpose: str
    categories: tuple[str, ...]
    legal: bool
    notified_at: datetime | None
    records: tuple[Record, ...] = ()

    def as_dict(self, *, with_data: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "at": self.at.isoformat(),
            "subject": self.subject_id,
            "recipient": self.recipient,
            "recipient_name": self.recipient_name,
            "purpose": self.purpose,
            "categories": list(self.categories),
            "legal": self.legal,
            "notified_at": self.notified_at.isoformat() if self.notified_at else None,
        }
        if with_data:
            out["records"] = [{"category": r.category, "fields": r.fields} for r in self.records]
        return out


class Disclosures:
    """The sharing gate of one vault and manifest."""

    def __init__(
        self,
        vault: Vault,
        manifest: Manifest,
        *,
        consent: ConsentPort | None = None,
        mailer: MailSender | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.vault = vault
        self.manifest = manifest
        self.consent = consent
        self.mailer = mailer
        self.clock = clock or SystemClock()

    @classmethod
    def from_services(cls, services: Any) -> Disclosures:
        """From an :class:`integritet.services.Services` (vault, consent, mailer, clock)."""
        return cls(
            services.vault,
            services.manifest,
            consent=services.consent,
            mailer=services.mailer,
            clock=services.clock,
        )

    @property
    def engine(self) -> Engine:
        return self.vault.engine

    # ------------------------------------------------------------------ sharing

    def disclose(
        self,
        actor: Actor,
        purpose: str,
        subject_id: str,
        recipient_id: str,
        categories: Iterable[str] | None = None,
        *,
        legal_basis_note: str | None = None,
    ) -> Disclosure:
        """Check, notify when the manifest says so, then release the records and log it."""
        recipient = self.manifest.recipient(recipient_id)
        wanted = tuple(dict.fromkeys(categories or recipient.categories))
        note = (legal_basis_note or "").strip() or None
        try:
            if not wanted:
                raise DisclosureRefused(
                    f"recipient {recipient.id!r} is declared to receive nothing"
                )
            self._check_rules(recipient, purpose, wanted, note)
            self._check_consent(recipient, subject_id)
            self._check_access(actor, purpose, subject_id, wanted)
        except AccessDenied as exc:
            self._audit_refusal(actor, purpose, subject_id, recipient.id, wanted, exc.reason)
            raise
        notified = None
        if recipient.notify_before_sharing:
            notified = self._notify(actor, purpose, subject_id, recipient, wanted)
        records = tuple(
            r for c in wanted for r in self.vault.records(actor, purpose, subject_id, c)
        )
        done = Disclosure(
            secrets.token_hex(16), utc(self.clock.now()), subject_id, recipient.id,
            recipient.name, purpose, wanted, recipient.required_by_law, notified, records,
        )  # fmt: skip
        return self._log(actor, done, note)

    def _check_rules(
        self, recipient: Recipient, purpose: str, wanted: Sequence[str], note: str | None
    ) -> None:
        financial = {c.id for c in self.manifest.categories if c.kind == CategoryKind.financial}
        for category in wanted:
            if category in financial and not _may_get_financial(recipient):
                raise DisclosureRefused(
                    f"financial category {category!r} never goes to {recipient.id!r} (C5)"
                )
        if purpose not in recipient.purposes:
            raise DisclosureRefused(
                f"recipient {recipient.id!r} does not receive data for purpose {purpose!r}"
            )
        for category in wanted:
            if category not in recipient.categories:
                raise DisclosureRefused(
                    f"recipient {recipient.id!r} is not declared to receive {category!r}"
                )
        if recipient.required_by_law and note is None:
            raise DisclosureRefused(
                f"recipient {recipient.id!r} receives data only where the law requires it: "
                "give the legal basis (court order, legal process, statute)"
            )

    def _check_consent(self, recipient: Recipient, subject_id: str) -> None:
        if recipient.consent_purpose is None:
            return
        cp = self.manifest.consent_purpose(recipient.consent_purpose)
        if self.consent is None:
            raise DisclosureRefused(f"no consent ledger to check {cp.id!r} consent")
        if not any(self.consent.may_contact(subject_id, cp.id, ch.value) for ch in cp.channels):
            raise DisclosureRefused(
                f"recipient {recipient.id!r} needs the person's {cp.id!r} consent, "
                "which is not given"
            )

    def _check_access(
        self, actor: Actor, purpose: str, subject_id: str, wanted: Sequence[str]
    ) -> None:
        customer = self.vault.subject_customer(subject_id)  # NotFound for unknown subjects
        for category in wanted:
            check(
                self.manifest,
                actor,
                purpose,
                category,
                "read",
                subject_customer=customer,
                subject=subject_id,
            )
        if self.vault.is_restricted(subject_id):
            raise DisclosureRefused(f"subject {subject_id} is restricted (Art. 18): storage only")

    # ------------------------------------------------------------------ notice (L5)

    def _notify(
        self,
        actor: Actor,
        purpose: str,
        subject_id: str,
        recipient: Recipient,
        wanted: Sequence[str],
    ) -> datetime:
        address = self.vault.identities(actor, purpose, subject_id).get("email")
        if self.mailer is None or address is None:
            reason = "no mailer configured" if self.mailer is None else "no email address on file"
            refused = DisclosureRefused(
                f"the person must be told {recipient.id!r}'s name first, but: {reason}"
            )
            self._audit_refusal(actor, purpose, subject_id, recipient.id, wanted, refused.reason)
            raise refused
        try:
            self.mailer.send(address, *self._notice(purpose, recipient, wanted))
        except Exception as exc:
            reason = f"the notice could not be sent ({type(exc).__name__}); nothing was shared"
            self._audit_refusal(actor, purpose, subject_id, recipient.id, wanted, reason)
            raise
        at = utc(self.clock.now())
        self.vault.audit.append_now(
            AuditEvent(
                actor=actor.label,
                action="disclosure.notice",
                outcome="done",
                purpose=purpose,
                subject=subject_id,
                customer=self.vault.subject_customer(subject_id),
                detail={"recipient": recipient.id, "categories": ",".join(wanted)},
            )
        )
        return at

    def _notice(self, purpose: str, recipient: Recipient, wanted: Sequence[str]) -> tuple[str, str]:
        m = self.manifest
        p = m.purpose(purpose)
        names = {lang: ", ".join(m.category(c).name[lang] for c in wanted) for lang in LANGS}
        what = {
            lang: f" ({recipient.description[lang]})" if recipient.description else ""
            for lang in LANGS
        }
        text = NOTICE_TEXT.format(
            controller=m.controller.name,
            name=recipient.name,
            categories_sv=names["sv"].lower(),
            categories_en=names["en"].lower(),
            what_sv=what["sv"],
            what_en=what["en"],
            purpose_sv=p.name["sv"].lower(),
            purpose_en=p.name["en"].lower(),
            contact=m.controller.email,
        )
        return NOTICE_SUBJECT.format(name=recipient.name), text

    # ------------------------------------------------------------------ the record

    def _log(self, actor: Actor, done: Disclosure, note: str | None) -> Disclosure:
        """Keep the disclosure (note sealed under the person's key) and audit it, atomically."""
        with self.vault.tx() as s:
            subject = self.vault.subject_row(s, done.subject_id)
            sealed = None
            if note is not None:
                key = self.vault.key(s, subject, "dek")
                sealed = vault_crypto.seal(key, note.encode(), _note_aad(done.id, subject.id))
            categories = ",".join(done.categories)
            s.add(
                DisclosureRow(
                    id=done.id, at=done.at, subject_id=subject.id,
                    customer_id=subject.customer_id, recipient=done.recipient,
                    purpose=done.purpose, categories=categories, records=len(done.records),
                    actor=actor.label, legal=done.legal, notified_at=done.notified_at,
                    note_sealed=sealed,
                )
            )  # fmt: skip
            detail: dict[str, DetailValue] = {
                "disclosure": done.id,
                "recipient": done.recipient,
                "categories": categories,
                "records": len(done.records),
                "notified": done.notified_at is not None,
            }
            action = "disclosure.legal" if done.legal else "disclosure.share"
            self.vault.emit(
                s, actor, action, "done", purpose=done.purpose, subject=subject, detail=detail
            )
        return done

    def _audit_refusal(
        self,
        actor: Actor,
        purpose: str,
        subject_id: str,
        recipient: str,
        wanted: Sequence[str],
        reason: str,
    ) -> None:
        declared = {p.id for p in self.manifest.purposes}
        self.vault.audit.append_now(
            AuditEvent(
                actor=actor.label,
                action="disclosure.share",
                outcome="denied",
                purpose=purpose if purpose in declared else None,
                subject=subject_id if self.vault.exists(subject_id) else None,
                detail={"recipient": recipient, "categories": ",".join(wanted), "reason": reason},
            )
        )

    # ------------------------------------------------------------------ reading the log

    def received_by(self, subject_id: str) -> list[Disclosure]:
        """Who received this person's data, oldest first (for access reports, Art. 15(1)(c))."""
        with self.vault.tx() as s:
            rows = s.scalars(
                select(DisclosureRow)
                .where(DisclosureRow.subject_id == subject_id)
                .order_by(DisclosureRow.at, DisclosureRow.id)
            ).all()
        return [_entry(self.manifest, row) for row in rows]

    def note(self, disclosure_id: str) -> str | None:
        """The legal-basis note of a disclosure (KeyDestroyed once the person was erased)."""
        with self.vault.tx() as s:
            row = s.get(DisclosureRow, disclosure_id)
            if row is None:
                from integritet.errors import NotFound

                raise NotFound(f"no disclosure {disclosure_id}")
            if row.note_sealed is None:
                return None
            subject = self.vault.subject_row(s, row.subject_id)
            key = self.vault.key(s, subject, "dek")
            return vault_crypto.open_sealed(
                key, row.note_sealed, _note_aad(row.id, row.subject_id)
            ).decode()


def _may_get_financial(recipient: Recipient) -> bool:
    """``financial_data: false`` never; an authority only under a legal obligation (C5)."""
    if not recipient.financial_data:
        return False
    return recipient.role != RecipientRole.authority or recipient.required_by_law


def _note_aad(disclosure_id: str, subject_id: str) -> bytes:
    return f"disclosure-note|{subject_id}|{disclosure_id}".encode()


def _entry(manifest: Manifest, row: DisclosureRow) -> Disclosure:
    names = {r.id: r.name for r in manifest.recipients}
    return Disclosure(
        id=row.id,
        at=utc(row.at),
        subject_id=row.subject_id,
        recipient=row.recipient,
        recipient_name=names.get(row.recipient, row.recipient),
        purpose=row.purpose,
        categories=tuple(row.categories.split(",")),
        legal=row.legal,
        notified_at=utc(row.notified_at) if row.notified_at else None,
    )


def disclose(
    services: Any,
    actor: Actor,
    purpose: str,
    subject_id: str,
    recipient_id: str,
    categories: Iterable[str] | None = None,
    *,
    legal_basis_note: str | None = None,
) -> Disclosure:
    """Shorthand for ``Disclosures.from_services(services).disclose(...)``."""
    return Disclosures.from_services(services).disclose(
        actor, purpose, subject_id, recipient_id, categories, legal_basis_note=legal_basis_note
    )
