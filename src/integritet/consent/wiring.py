"""The consent ledger wired to a vault: restriction, objections and customers from their owners.

Kept apart from ``integritet.consent`` so the ledger itself imports neither the vault
nor the request engine (which imports the ledger).
"""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from integritet.clock import Clock
from integritet.consent.ledger import ConsentLedger, ConsentState, Sealer
from integritet.consent.links import (
    UNSUBSCRIBE_KEY,
    PreferenceLinks,
    UnsubscribeLinks,
    signing_key,
)
from integritet.consent.publish import Affected
from integritet.db import upgrade
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault import Vault
from integritet.vault.tables import RecordRow

__all__ = [
    "UNSUBSCRIBE_KEY",
    "affected_subjects",
    "open_consent",
    "preference_links",
    "unsubscribe_links",
]


def open_consent(
    settings: Settings,
    manifest: Manifest,
    vault: Vault,
    clock: Clock,
    *,
    sealer: Sealer | None = None,
) -> ConsentLedger:
    """The ledger on the vault's database, honouring restriction, objection and soft opt-in.

    ``sealer`` is passed on to :class:`ConsentLedger` (evidence sealing)."""
    from integritet.requests.keys import RequestKeys
    from integritet.requests.object import Suppressions

    if not inspect(vault.engine).has_table("consent_current"):
        upgrade(vault.engine)
    suppressions = Suppressions(vault.engine, RequestKeys.load_or_create(settings.home), clock)
    return ConsentLedger(
        vault.engine,
        manifest,
        clock=clock,
        sealer=sealer,
        is_restricted=vault.is_restricted,
        is_suppressed=suppressions.is_suppressed,
        is_customer=lambda subject: vault.subject_customer(subject) is not None,
        cache=True,  # every callback above reads only this database
    )


def unsubscribe_links(settings: Settings) -> UnsubscribeLinks:
    """The signer for one-click unsubscribe links; its key file is created (0600) on first use."""
    return UnsubscribeLinks(signing_key(settings.home))


def preference_links(settings: Settings) -> PreferenceLinks:
    """Links to the communication-preferences page (same key file as unsubscribe links)."""
    return PreferenceLinks(signing_key(settings.home))


def affected_subjects(vault: Vault, ledger: ConsentLedger) -> Affected:
    """For :meth:`PolicyPublisher.publish`: who holds data in the affected categories or
    has given one of the affected consents."""

    def find(categories: list[str], purposes: list[str]) -> set[str]:
        found: set[str] = set()
        if categories:
            with Session(vault.engine) as session:
                found.update(
                    session.scalars(
                        select(RecordRow.subject_id)
                        .where(RecordRow.category.in_(categories))
                        .distinct()
                    )
                )
        for purpose in purposes:
            found.update(ledger.subjects_with(purpose, ConsentState.given))
        return found

    return find
