"""Everything a request step needs, gathered once: manifest, database, keys and neighbours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from integritet.access import Actor
from integritet.clock import Clock
from integritet.connectors.base import Connector
from integritet.consent import ConsentLedger
from integritet.manifest import Manifest
from integritet.requests.keys import RequestKeys
from integritet.requests.ports import AuditPort, MailerPort, OutboxPort, VaultPort


@dataclass
class Context:
    """The request engine's dependencies. Built by :func:`integritet.requests.open_requests`."""

    manifest: Manifest
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    keys: RequestKeys
    audit: AuditPort
    vault: VaultPort
    mailer: MailerPort | None = None
    outbox: OutboxPort | None = None
    connectors: Mapping[str, Connector] = field(default_factory=dict)
    consent: ConsentLedger | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)  # env for webhook secrets
    system: Actor = field(default_factory=lambda: Actor.system("requests"))
    # what is derived from the manifest alone (category -> purpose, category descriptions),
    # computed once per engine: the manifest does not change while it runs
    plans: dict[str, Any] = field(default_factory=dict, repr=False)

    def purpose_for(self, category: str) -> str:
        """A declared purpose that may use ``category`` (the system actor reads through it)."""
        purposes: dict[str, str] | None = self.plans.get("purpose_for")
        if purposes is None:
            purposes = {}
            for purpose in reversed(self.manifest.purposes):
                purposes.update(dict.fromkeys(purpose.categories, purpose.id))
            self.plans["purpose_for"] = purposes
        return purposes.get(category, self.manifest.purposes[0].id)

    @property
    def any_purpose(self) -> str:
        return self.manifest.purposes[0].id
