"""The consent ledger per subject x consent purpose x channel, and the ``may_contact`` check.

The ledger is append-only (``consent_events``). The current state of each
(subject, purpose, channel) is derived: the event with the latest evidence
time wins, and on a tie a withdrawal wins, so an older import can never
override a newer withdrawal. ``consent_current`` materialises that derivation
for fast checks and is rebuilt from the ledger by :meth:`ConsentLedger.rebuild`.

Evidence that is personal data (IP address, user agent) is sealed by a
``Sealer`` (the vault encrypts it under the subject's key, so erasure shreds
it); the text shown is kept only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    and_,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from integritet.clock import Clock, SystemClock, utc
from integritet.consent.cache import DecisionCache
from integritet.db import Base, session_factory
from integritet.errors import ConsentError
from integritet.manifest.model import Channel, ConsentPurpose, Manifest

Sealer = Callable[[str, bytes], bytes]


class ConsentState(StrEnum):
    given = "given"
    withdrawn = "withdrawn"
    never_asked = "never_asked"


class ConsentSource(StrEnum):
    portal = "portal"
    api = "api"
    import_ = "import"
    staff = "staff"
    unsubscribe = "unsubscribe"
    objection = "objection"


class ConsentEvent(Base):
    __tablename__ = "consent_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    subject_id: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    policy_version: Mapped[str] = mapped_column(String(64))
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    sealed_evidence: Mapped[bytes | None] = mapped_column(LargeBinary)


class ConsentCurrent(Base):
    __tablename__ = "consent_current"
    __table_args__ = (Index("ix_consent_current_purpose", "purpose", "state"),)

    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    policy_version: Mapped[str] = mapped_column(String(64))
    event_seq: Mapped[int] = mapped_column(Integer)


class ReconsentRequired(Base):
    """A material policy change opened re-consent for a consent purpose (C7)."""

    __tablename__ = "consent_reconsent"

    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    since_version: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Evidence:
    """What proves a consent decision. ``ip`` and ``user_agent`` are sealed before storage."""

    source: ConsentSource
    policy_version: str
    text: str | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class CurrentConsent:
    purpose: str
    channel: str
    state: ConsentState
    at: datetime | None
    policy_version: str | None


@dataclass(frozen=True)
class Decision:
    """The answer of :meth:`ConsentLedger.may_contact`, with the reason in plain words."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _wins(new_at: datetime, new_state: str, old_at: datetime, old_state: str) -> bool:
    """Does an event at ``new_at`` replace the current one? Later wins; on a tie, withdrawal."""
    new_at, old_at = utc(new_at), utc(old_at)
    if new_at != old_at:
        return new_at > old_at
    return new_state == ConsentState.withdrawn or old_state != ConsentState.withdrawn


class ConsentLedger:
    """The consent ledger of one database, checked against one manifest."""

    def __init__(
        self,
        engine: Engine,
        manifest: Manifest,
        *,
        clock: Clock | None = None,
        sealer: Sealer | None = None,
        is_restricted: Callable[[str], bool] | None = None,
        is_suppressed: Callable[[str], bool] | None = None,
        is_customer: Callable[[str], bool] | None = None,
        cache: bool = False,
    ) -> None:
        """``cache=True`` remembers ``may_contact`` decisions while the SQLite database file
        is unchanged (:mod:`integritet.consent.cache`). Only set it when the callbacks read
        nothing but that same database (as :func:`integritet.consent.wiring.open_consent`
        does): a change the database does not see would not reach the cache."""
        self.engine = engine
        self.manifest = manifest
        self.clock = clock or SystemClock()
        self._sessions = session_factory(engine)
        self._seal = sealer
        self._is_restricted = is_restricted or (lambda _s: False)
        self._is_suppressed = is_suppressed or (lambda _s: False)
        self._is_customer = is_customer or (lambda _s: False)
        self._purposes = {cp.id: cp for cp in manifest.consent_purposes}
        self._decisions: DecisionCache[tuple[str, str, str], Decision] | None = (
            DecisionCache(engine) if cache else None
        )

    # ------------------------------------------------------------------ writing

    def purpose(self, purpose: str, channel: str) -> ConsentPurpose:
        """The manifest's consent purpose, checking that it offers ``channel``."""
        known = self._purposes
        if purpose not in known:
            raise ConsentError(
                f"unknown consent purpose {purpose!r}; the manifest has: {', '.join(known)}"
            )
        cp = known[purpose]
        if channel not in {c.value for c in cp.channels}:
            offered = ", ".join(c.value for c in cp.channels) or "none"
            raise ConsentError(
                f"consent purpose {purpose!r} has no channel {channel!r} (offered: {offered})"
            )
        return cp

    def record(
        self,
        subject_id: str,
        purpose: str,
        channel: str,
        state: ConsentState,
        evidence: Evidence,
        *,
        at: datetime | None = None,
        session: Session | None = None,
    ) -> str:
        """Append one decision to the ledger and update the derived current state."""
        if state == ConsentState.never_asked:
            raise ConsentError("'never_asked' is a derived state and cannot be recorded")
        self.purpose(purpose, channel)
        when = utc(at) if at else self.clock.now()
        sealed = None
        if (evidence.ip or evidence.user_agent) and self._seal is not None:
            payload = f"{evidence.ip or ''}\n{evidence.user_agent or ''}".encode()
            sealed = self._seal(subject_id, payload)
        event = ConsentEvent(
            id=str(uuid.uuid4()),
            subject_id=subject_id,
            purpose=purpose,
            channel=channel,
            state=state.value,
            at=when,
            recorded_at=self.clock.now(),
            policy_version=evidence.policy_version,
            text_sha256=text_hash(evidence.text) if evidence.text is not None else None,
            source=evidence.source.value,
            sealed_evidence=sealed,
        )
        if session is not None:
            self._apply(session, event)
        else:
            with self._sessions() as s, s.begin():
                self._apply(s, event)
        return event.id

    def _apply(self, session: Session, event: ConsentEvent) -> None:
        session.add(event)
        session.flush()
        key = (event.subject_id, event.purpose, event.channel)
        current = session.get(ConsentCurrent, key, with_for_update=True)
        if current is None:
            session.add(
                ConsentCurrent(
                    subject_id=event.subject_id,
                    purpose=event.purpose,
                    channel=event.channel,
                    state=event.state,
                    at=event.at,
                    policy_version=event.policy_version,
                    event_seq=event.seq,
                )
            )
        elif _wins(event.at, event.state, current.at, current.state):
            current.state = event.state
            current.at = event.at
            current.policy_version = event.policy_version
            current.event_seq = event.seq

    def set_text_hash(self, event_id: str, digest: str) -> None:
        """Keep an imported consent's original text hash when the text itself is unknown."""
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
            raise ConsentError("text_sha256 must be 64 hex digits")
        with self._sessions() as s, s.begin():
            event = s.scalars(select(ConsentEvent).where(ConsentEvent.id == event_id)).one()
            event.text_sha256 = digest.lower()

    def withdraw_all(
        self, subject_id: str, evidence: Evidence, *, marketing_only: bool = False
    ) -> int:
        """Withdraw every consent (or every marketing consent) of a subject; returns how many."""
        count = 0
        with self._sessions() as s, s.begin():
            for cp in self.manifest.consent_purposes:
                if marketing_only and not cp.marketing:
                    continue
                for channel in cp.channels:
                    self.record(
                        subject_id,
                        cp.id,
                        channel.value,
                        ConsentState.withdrawn,
                        evidence,
                        session=s,
                    )
                    count += 1
        return count

    def forget(self, subject_id: str) -> None:
        """Remove a subject's consent history (erasure). The audit log keeps the fact."""
        self.forget_many([subject_id])

    def forget_many(self, subject_ids: Iterable[str]) -> None:
        """:meth:`forget` for many subjects in one transaction."""
        ids = list(subject_ids)
        if not ids:
            return
        with self._sessions() as s, s.begin():
            s.execute(delete(ConsentCurrent).where(ConsentCurrent.subject_id.in_(ids)))
            s.execute(delete(ConsentEvent).where(ConsentEvent.subject_id.in_(ids)))

    # ------------------------------------------------------------------ reading

    def current(self, subject_id: str) -> list[CurrentConsent]:
        """Every purpose x channel of the manifest with its derived state for this subject."""
        with self._sessions() as s:
            rows = {
                (r.purpose, r.channel): r
                for r in s.scalars(
                    select(ConsentCurrent).where(ConsentCurrent.subject_id == subject_id)
                )
            }
        result: list[CurrentConsent] = []
        for cp in self.manifest.consent_purposes:
            for channel in cp.channels:
                row = rows.get((cp.id, channel.value))
                if row is None:
                    result.append(
                        CurrentConsent(cp.id, channel.value, ConsentState.never_asked, None, None)
                    )
                else:
                    state = ConsentState(row.state)
                    result.append(
                        CurrentConsent(cp.id, channel.value, state, row.at, row.policy_version)
                    )
        return result

    def history(self, subject_id: str) -> list[ConsentEvent]:
        with self._sessions() as s:
            return list(
                s.scalars(
                    select(ConsentEvent)
                    .where(ConsentEvent.subject_id == subject_id)
                    .order_by(ConsentEvent.seq)
                )
            )

    def subjects_with(self, purpose: str, state: ConsentState) -> Iterable[str]:
        with self._sessions() as s:
            return sorted(
                set(
                    s.scalars(
                        select(ConsentCurrent.subject_id).where(
                            and_(ConsentCurrent.purpose == purpose, ConsentCurrent.state == state)
                        )
                    )
                )
            )

    # ------------------------------------------------------------------ deciding

    @property
    def cached(self) -> bool:
        """True when decisions are remembered (``cache=True`` on a file-backed SQLite
        database): a check is then answered from memory, or computed from the local file."""
        return self._decisions is not None and self._decisions.enabled

    def may_contact(self, subject_id: str, purpose: str, channel: str) -> Decision:
        """May this subject be contacted for this consent purpose on this channel? With why."""
        if self._decisions is None:
            return self._decide(subject_id, purpose, channel)
        key = (subject_id, purpose, channel)
        found, version = self._decisions.lookup(key)
        if found is None:
            found = self._decide(subject_id, purpose, channel)
            self._decisions.store(key, found, version)
        return found

    def close(self) -> None:
        """Close the decision cache's own database connection (the engine is the caller's)."""
        if self._decisions is not None:
            self._decisions.close()

    def _decide(self, subject_id: str, purpose: str, channel: str) -> Decision:
        cp = self.purpose(purpose, channel)
        if self._is_restricted(subject_id):
            return Decision(False, "processing is restricted (GDPR Art. 18)")
        if cp.marketing and self._is_suppressed(subject_id):
            return Decision(False, "the person objected to direct marketing (GDPR Art. 21)")
        with self._sessions() as s:
            row = s.get(ConsentCurrent, (subject_id, purpose, channel))
            reconsent = s.get(ReconsentRequired, purpose)
        if row is not None and row.state == ConsentState.withdrawn:
            return Decision(False, f"consent withdrawn on {utc(row.at).date().isoformat()}")
        if row is not None and row.state == ConsentState.given:
            if reconsent is not None and utc(row.at) < utc(reconsent.since):
                return Decision(
                    False,
                    f"fresh consent required after the material change in policy "
                    f"{reconsent.since_version}",
                )
            return Decision(True, f"consent given on {utc(row.at).date().isoformat()}")
        if cp.soft_opt_in and channel == Channel.email and self._is_customer(subject_id):
            return Decision(
                True, "existing customer, soft opt-in (Marknadsföringslagen 19 § 2 st.)"
            )
        return Decision(False, "no consent given")

    # ------------------------------------------------------------------ policy changes

    def require_reconsent(self, purposes: Iterable[str], version: str) -> None:
        """After a material change: consents given before now no longer count (C7)."""
        now = self.clock.now()
        with self._sessions() as s, s.begin():
            for purpose in purposes:
                existing = s.get(ReconsentRequired, purpose)
                if existing is None:
                    s.add(ReconsentRequired(purpose=purpose, since_version=version, since=now))
                else:
                    existing.since_version = version
                    existing.since = now

    def rebuild(self) -> int:
        """Recompute ``consent_current`` from the ledger (after a restore or an upgrade)."""
        with self._sessions() as s, s.begin():
            s.execute(delete(ConsentCurrent))
            best: dict[tuple[str, str, str], ConsentEvent] = {}
            for ev in s.scalars(select(ConsentEvent).order_by(ConsentEvent.seq)):
                key = (ev.subject_id, ev.purpose, ev.channel)
                old = best.get(key)
                if old is None or _wins(ev.at, ev.state, old.at, old.state):
                    best[key] = ev
            for (subject, purpose, channel), ev in best.items():
                s.add(
                    ConsentCurrent(
                        subject_id=subject,
                        purpose=purpose,
                        channel=channel,
                        state=ev.state,
                        at=ev.at,
                        policy_version=ev.policy_version,
                        event_seq=ev.seq,
                    )
                )
            return len(best)
