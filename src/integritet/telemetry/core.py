"""The telemetry service: registration, access (C4), queries bounded by purpose (C3).

    telemetry = open_telemetry(settings, manifest, clock)
    site = telemetry.add_site(admin, customer_id, "Kontoret Solna")
    telemetry.add_machine(admin, "cm-0001", customer_id, site=site, model="Scanomat TopBrewer")
    result = telemetry.ingest(Actor.system("gateway"), records)
    telemetry.readings(technician, "cm-0001", purpose="troubleshooting")

Reading machine data needs a role that serves the named purpose (one of
``telemetry.purposes``), covers the telemetry category, can ``read_telemetry`` and whose
scope reaches the machine's customer or the machine (:func:`integritet.access.check`).
Every read, allowed or refused, is audited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from integritet.access import Actor, check
from integritet.audit import AuditEvent, AuditLog
from integritet.audit.chain import DetailValue
from integritet.clock import Clock, utc
from integritet.errors import AccessDenied, NotFound, TelemetryError
from integritet.manifest.model import CategoryKind, Manifest
from integritet.manifest.model import Telemetry as TelemetryConfig
from integritet.telemetry.guard import CollectionGuard
from integritet.telemetry.models import AggregateRow, MachineRow, ReadingRow, SiteRow
from integritet.telemetry.results import Aggregate, IngestResult, Machine, Reading, Site
from integritet.vault.core import new_id
from integritet.vault.tables import CustomerRow

MACHINE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
MAX_ROWS = 10_000

Progress = Callable[[int], None]


class Telemetry:
    """Machine data of one database under one manifest."""

    def __init__(
        self,
        engine: Engine,
        manifest: Manifest,
        audit: AuditLog,
        clock: Clock,
        *,
        guard: CollectionGuard | None = None,
    ) -> None:
        self.engine = engine
        self.manifest = manifest
        self.audit = audit
        self.clock = clock
        self.guard = guard or CollectionGuard(manifest.telemetry)

    @property
    def config(self) -> TelemetryConfig:
        if self.manifest.telemetry is None:
            raise TelemetryError("the manifest has no telemetry section")
        return self.manifest.telemetry

    def now(self) -> datetime:
        return utc(self.clock.now())

    def emit(
        self,
        session: Session | None,
        actor: Actor,
        action: str,
        outcome: str,
        *,
        purpose: str | None = None,
        customer: str | None = None,
        detail: Mapping[str, DetailValue] | None = None,
    ) -> None:
        event = AuditEvent(
            actor=actor.label,
            action=action,
            outcome=outcome,  # type: ignore[arg-type]
            purpose=purpose,
            customer=customer,
            detail=dict(detail or {}),
        )
        self.audit.write(session, event)

    # ------------------------------------------------------------------ registration

    def add_site(self, actor: Actor, customer: str, name: str) -> str:
        """A facility of ``customer`` (a vault customer id); returns the site id."""
        self._may_manage(actor, customer)
        sid = new_id()
        with Session(self.engine) as s, s.begin():
            self._customer_exists(s, customer)
            s.add(SiteRow(id=sid, customer_id=customer, name=name, created_at=self.now()))
            self.emit(
                s, actor, "telemetry.add_site", "done", customer=customer, detail={"site": sid}
            )
        return sid

    def add_machine(
        self,
        actor: Actor,
        machine: str,
        customer: str,
        *,
        site: str | None = None,
        model: str | None = None,
        serial: str | None = None,
    ) -> Machine:
        """Register the machine id the device sends, under ``customer`` (and ``site``)."""
        if not MACHINE_ID.match(machine):
            raise TelemetryError(
                "a machine id is 1-64 letters, digits and . _ : - (starting with a letter or digit)"
            )
        self._may_manage(actor, customer)
        with Session(self.engine) as s, s.begin():
            self._customer_exists(s, customer)
            if s.get(MachineRow, machine) is not None:
                raise TelemetryError(f"machine {machine!r} is already registered")
            if site is not None:
                row = s.get(SiteRow, site)
                if row is None or row.customer_id != customer:
                    raise NotFound(f"no site {site} of customer {customer}")
            s.add(
                MachineRow(
                    id=machine,
                    customer_id=customer,
                    site_id=site,
                    model=model,
                    serial=serial,
                    created_at=self.now(),
                )
            )
            self.emit(
                s,
                actor,
                "telemetry.add_machine",
                "done",
                customer=customer,
                detail={"machine": machine, "site": site},
            )
        return Machine(machine, customer, site, model, serial)

    def machine(self, machine: str) -> Machine:
        """The registration of ``machine`` (no readings; not personal data)."""
        with Session(self.engine) as s:
            row = s.get(MachineRow, machine)
        if row is None:
            raise NotFound(f"no machine {machine!r}" if MACHINE_ID.match(machine) else "no machine")
        return Machine(row.id, row.customer_id, row.site_id, row.model, row.serial)

    def machines(self, customer: str | None = None) -> list[Machine]:
        with Session(self.engine) as s:
            query = select(MachineRow).order_by(MachineRow.id)
            if customer is not None:
                query = query.where(MachineRow.customer_id == customer)
            rows = list(s.scalars(query))
        return [Machine(r.id, r.customer_id, r.site_id, r.model, r.serial) for r in rows]

    def sites(self, customer: str | None = None) -> list[Site]:
        with Session(self.engine) as s:
            query = select(SiteRow).order_by(SiteRow.created_at, SiteRow.id)
            if customer is not None:
                query = query.where(SiteRow.customer_id == customer)
            return [Site(r.id, r.customer_id, r.name) for r in s.scalars(query)]

    def _customer_exists(self, s: Session, customer: str) -> None:
        if s.get(CustomerRow, customer) is None:
            raise NotFound(f"no customer {customer}")

    def _may_manage(self, actor: Actor, customer: str) -> None:
        """Registering machines is telemetry collection: ``ingest_telemetry`` on a purpose."""
        self.may_ingest(actor, customer, None)

    # ------------------------------------------------------------------ access

    def telemetry_category(self, purpose: str) -> str | None:
        """The telemetry category ``purpose`` may use (None when the manifest has none)."""
        for cat in self.manifest.categories:
            if cat.kind == CategoryKind.telemetry and self.manifest.purpose_allows(purpose, cat.id):
                return cat.id
        return None

    def may_ingest(self, actor: Actor, customer: str, machine: str | None) -> None:
        """Raise AccessDenied unless ``actor`` may collect data for the customer's machines."""
        reasons: list[str] = []
        for purpose in self.config.purposes:
            try:
                check(
                    self.manifest,
                    actor,
                    purpose,
                    None,
                    "ingest_telemetry",
                    subject_customer=customer,
                    machine=machine,
                )
                return
            except AccessDenied as exc:
                reasons.append(exc.reason)
        raise AccessDenied(reasons[-1] if reasons else "no telemetry purposes")

    def authorize_read(self, actor: Actor, machine: str, purpose: str) -> Machine:
        """Check (and audit) that ``actor`` may read ``machine``'s data for ``purpose``."""
        found = self.machine(machine)
        try:
            if purpose not in self.config.purposes:
                raise AccessDenied(
                    f"purpose {purpose!r} is not a telemetry purpose "
                    f"(telemetry.purposes: {', '.join(self.config.purposes)})"
                )
            check(
                self.manifest,
                actor,
                purpose,
                self.telemetry_category(purpose),
                "read_telemetry",
                subject_customer=found.customer,
                machine=found.id,
            )
        except AccessDenied as exc:
            self.emit(
                None,
                actor,
                "telemetry.read",
                "denied",
                purpose=purpose,
                customer=found.customer,
                detail={"machine": machine, "reason": exc.reason},
            )
            raise
        self.emit(
            None,
            actor,
            "telemetry.read",
            "allowed",
            purpose=purpose,
            customer=found.customer,
            detail={"machine": machine},
        )
        return found

    # ------------------------------------------------------------------ ingest

    def ingest(
        self,
        actor: Actor,
        records: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 5000,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Guard and store ``records`` (each with ``machine`` and ``at``) in batches."""
        from integritet.telemetry.ingest import Ingest

        return Ingest(self, actor, batch_size, progress).run(enumerate(records, 1))

    def ingest_lines(
        self,
        actor: Actor,
        lines: Iterable[str],
        *,
        batch_size: int = 5000,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Like :meth:`ingest` for JSON lines; errors carry the line number. Blank lines skip."""
        from integritet.telemetry.ingest import Ingest, parse_lines

        return Ingest(self, actor, batch_size, progress).run(parse_lines(lines))

    # ------------------------------------------------------------------ queries

    def readings(
        self,
        actor: Actor,
        machine: str,
        purpose: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        names: Iterable[str] | None = None,
        limit: int = 1000,
    ) -> list[Reading]:
        """Raw readings of ``machine``, newest first (access checked and audited)."""
        self.authorize_read(actor, machine, purpose)
        query = select(ReadingRow).where(ReadingRow.machine_id == machine)
        if since is not None:
            query = query.where(ReadingRow.at >= utc(since))
        if until is not None:
            query = query.where(ReadingRow.at < utc(until))
        if names is not None:
            query = query.where(ReadingRow.name.in_(list(names)))
        query = query.order_by(ReadingRow.at.desc(), ReadingRow.id.desc())
        query = query.limit(max(1, min(limit, MAX_ROWS)))
        with Session(self.engine) as s:
            rows = list(s.scalars(query))
        return [
            Reading(
                r.machine_id,
                utc(r.at),
                r.kind,
                r.name,
                r.num if r.num is not None else r.text,
                r.source,
            )
            for r in rows
        ]

    def aggregates(
        self,
        actor: Actor,
        machine: str,
        purpose: str,
        *,
        period: str = "day",
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[Aggregate]:
        """Hourly or daily statistics kept after raw readings expired (newest first)."""
        if period not in ("hour", "day"):
            raise TelemetryError("period is 'hour' or 'day'")
        self.authorize_read(actor, machine, purpose)
        query = select(AggregateRow).where(
            AggregateRow.machine_id == machine, AggregateRow.period == period
        )
        if since is not None:
            query = query.where(AggregateRow.start >= utc(since))
        query = query.order_by(AggregateRow.start.desc(), AggregateRow.name)
        with Session(self.engine) as s:
            rows = list(s.scalars(query.limit(max(1, min(limit, MAX_ROWS)))))
        return [
            Aggregate(
                r.machine_id,
                r.name,
                r.period,
                utc(r.start),
                r.count,
                r.num_count,
                r.min,
                r.max,
                r.sum,
            )
            for r in rows
        ]

    def count_readings(self, machine: str | None = None) -> int:
        """How many raw readings are stored (for operations and tests; no values)."""
        query = select(func.count()).select_from(ReadingRow)
        if machine is not None:
            query = query.where(ReadingRow.machine_id == machine)
        with Session(self.engine) as s:
            return int(s.scalar(query) or 0)
