"""Everything a request step needs, gathered once: manifest, database, keys and neighbours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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

    def purpose_for(self, category: str) -> str:
        """A declared purpose that may use ``category`` (the system actor reads through it)."""
        for purpose in self.manifest.purposes:
            if category in purpose.categories:
                return purpose.id
        return self.manifest.purposes[0].id

    @property
    def any_purpose(self) -> str:
        return self.manifest.purposes[0].id
