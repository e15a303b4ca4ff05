"""The composition root: every engine of integritet opened once, on one database.

The REST API, the web UI and ``integritet demo`` all build their work on one
:class:`Services`::

    services = Services.open(settings, manifest, clock)
    try:
        services.vault.records(actor, "account", subject_id)
        services.consent.may_contact(subject_id, "newsletter", "email")
    finally:
        services.close()

It holds the vault, the consent ledger (sealing consent evidence under the subject's own
key), the request engine, the audit log, the policy publisher, the unsubscribe-link signer,
the sign-in store, machine telemetry (same database and audit log) and the mailer
(``integritet.mail.Mailer`` when that module is installed, or the one passed in).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect

from integritet.audit import AuditLog
from integritet.clock import Clock, SystemClock
from integritet.consent import ConsentLedger, UnsubscribeLinks
from integritet.consent.cache import DecisionCache
from integritet.consent.links import PreferenceLinks
from integritet.consent.publish import PolicyPublisher
from integritet.consent.wiring import open_consent, preference_links, unsubscribe_links
from integritet.db import upgrade
from integritet.identity import IdentityStore, Login
from integritet.manifest import Manifest
from integritet.requests import Requests, open_requests
from integritet.settings import Settings
from integritet.telemetry import Telemetry
from integritet.vault import Vault, open_vault
from integritet.vault import crypto as vault_crypto


def privacy_contact(manifest: Manifest) -> str:
    """Where people write about their data: the DPO's email, else the controller's."""
    dpo = manifest.controller.dpo
    return dpo.email if dpo is not None and dpo.email else manifest.controller.email


def default_mailer(settings: Settings, manifest: Manifest | None = None) -> Any:
    """``integritet.mail.Mailer(settings)`` when the mail module is installed, else None.

    With the manifest, every email's ``List-Unsubscribe`` also offers ``mailto:`` the
    privacy contact (unless ``INTEGRITET_PRIVACY_CONTACT`` names another)."""
    try:
        module = importlib.import_module("integritet.mail")
    except ImportError:
        return None
    factory = getattr(module, "Mailer", None)
    if factory is None:
        return None
    contact = settings.privacy_contact or (privacy_contact(manifest) if manifest else None)
    return factory(settings, privacy_contact=contact)


def evidence_sealer(vault: Vault) -> Any:
    """Seal consent evidence (IP, user agent) under the subject's own key: erased with it."""

    def seal(subject_id: str, payload: bytes) -> bytes:
        with vault.tx() as session:
            row = vault.subject_row(session, subject_id)
            key = vault.key(session, row, "dek")
        return vault_crypto.seal(key, payload, f"consent-evidence|{subject_id}".encode())

    return seal


@dataclass
class Services:
    """Everything the API and the web UI call, opened once and closed on shutdown."""

    settings: Settings
    manifest: Manifest
    clock: Clock
    vault: Vault
    consent: ConsentLedger
    requests: Requests
    publisher: PolicyPublisher
    links: UnsubscribeLinks
    preferences: PreferenceLinks
    identity: IdentityStore
    telemetry: Telemetry
    mailer: Any
    _customers: DecisionCache[str, str | None] | None = None

    @classmethod
    def open(
        cls,
        settings: Settings,
        manifest: Manifest,
        clock: Clock | None = None,
        *,
        mailer: Any = None,
        notify: Any = None,
    ) -> Services:
        """Open (and on first use create) the database, keys and every engine."""
        clock = clock or SystemClock()
        mailer = mailer if mailer is not None else default_mailer(settings, manifest)
        vault = open_vault(settings, manifest, clock, notify=notify)
        try:
            if not inspect(vault.engine).has_table("api_users"):
                upgrade(vault.engine)
            consent = open_consent(settings, manifest, vault, clock, sealer=evidence_sealer(vault))
            requests = open_requests(
                settings, manifest, clock, vault=vault, mailer=mailer, consent=consent
            )
        except BaseException:
            vault.close()
            raise
        return cls(
            settings=settings,
            manifest=manifest,
            clock=clock,
            vault=vault,
            consent=consent,
            requests=requests,
            publisher=PolicyPublisher(vault.engine, consent, clock),
            links=unsubscribe_links(settings),
            preferences=preference_links(settings),
            identity=IdentityStore(vault.engine, manifest, clock, vault.keyring),
            telemetry=Telemetry(vault.engine, manifest, vault.audit, clock),
            mailer=mailer,
        )

    def subject_customer(self, subject_id: str) -> str | None:
        """The subject's customer (NotFound for unknown ids), remembered while the SQLite
        file is unchanged: an authorisation check per call without a query per call."""
        if self._customers is None:
            self._customers = DecisionCache(self.vault.engine)
        found, version = self._customers.lookup(subject_id)
        if found is not None:
            return found
        customer = self.vault.subject_customer(subject_id)
        if customer is not None:
            self._customers.store(subject_id, customer, version)
        return customer

    @property
    def audit(self) -> AuditLog:
        return self.vault.audit

    @property
    def login(self) -> Login:
        return Login(self.identity)

    def close(self) -> None:
        """Release every database connection."""
        if self._customers is not None:
            self._customers.close()
        self.identity.close()
        self.consent.close()
        self.requests.close()
        self.vault.close()
