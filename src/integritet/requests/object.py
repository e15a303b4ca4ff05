"""Objection to direct marketing (Art. 21(2)-(3), J18, P11): absolute, no balancing.

The ``suppress`` step puts every identity of the person (blind-indexed, never plaintext)
and their pseudonymous subject id on the suppression list, and withdraws their marketing
consents in the consent ledger when it is wired. Every marketing send check consults
:meth:`Suppressions.is_suppressed` (by subject id, the shape the consent ledger's
``is_suppressed`` hook takes) or :meth:`Suppressions.is_identity_suppressed` (by email,
phone... for people not in the vault, e.g. a purchased list).

The suppression list lives here until the consent feature takes it over.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from integritet.clock import Clock
from integritet.requests.context import Context
from integritet.requests.keys import RequestKeys
from integritet.requests.lifecycle import Lifecycle
from integritet.requests.models import SuppressionRow
from integritet.requests.people import snapshot_of


class Suppressions:
    """The blind-indexed list of people who objected to direct marketing."""

    def __init__(self, engine: Engine, keys: RequestKeys, clock: Clock) -> None:
        self.engine = engine
        self.keys = keys
        self.clock = clock

    def add(self, session: Session, kind: str, value: str, request_id: str | None) -> bool:
        """Add one identity (kind ``subject`` for a vault id); False when already listed."""
        blind = self.keys.blind(kind, value)
        if session.get(SuppressionRow, blind) is not None:
            return False
        session.add(
            SuppressionRow(
                blind=blind, kind=kind, request_id=request_id, created_at=self.clock.now()
            )
        )
        return True

    def is_identity_suppressed(self, kind: str, value: str) -> bool:
        with Session(self.engine) as session:
            return session.get(SuppressionRow, self.keys.blind(kind, value)) is not None

    def is_suppressed(self, subject_id: str) -> bool:
        """True when the subject objected to direct marketing."""
        return self.is_identity_suppressed("subject", subject_id)

    def count(self) -> int:
        with Session(self.engine) as session:
            return len(session.scalars(select(SuppressionRow.blind)).all())


def suppress(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    """Step: list every identity and the subject id; withdraw marketing consents."""
    suppressions = Suppressions(ctx.engine, ctx.keys, ctx.clock)
    with ctx.sessions() as session, session.begin():
        row = lc.load(session, request_id)
        identities, _ = snapshot_of(lc, row)
        added = 0
        for kind, value in sorted(identities.items()):
            added += suppressions.add(session, kind, value, request_id)
        if row.subject_id:
            added += suppressions.add(session, "subject", row.subject_id, request_id)
        ctx.audit.record(
            session,
            actor="system:requests",
            action="request.suppressed",
            outcome="done",
            subject=row.subject_id,
            detail={"request": request_id, "added": added},
        )
    withdrawn = 0
    if ctx.consent is not None and row.subject_id:
        withdrawn = _withdraw(ctx, row.subject_id, request_id)
    return {
        "suppressed": sorted(identities) + (["subject"] if row.subject_id else []),
        "withdrawn": withdrawn,
    }


def _withdraw(ctx: Context, subject_id: str, request_id: str) -> int:
    from integritet.consent import ConsentSource, Evidence

    evidence = Evidence(
        policy_version=ctx.manifest.policy.version,
        source=ConsentSource.objection,
        text=f"objection to direct marketing, request {request_id}",
    )
    assert ctx.consent is not None
    withdrawn: int = ctx.consent.withdraw_all(subject_id, evidence, marketing_only=True)
    return withdrawn
