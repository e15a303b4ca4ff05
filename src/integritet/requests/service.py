"""The request engine's front door: :func:`open_requests` and :class:`Requests`.

Usage::

    requests = open_requests(settings, manifest)
    rid = requests.new(Kind.erasure, email="anna@example.se")
    requests.send_code(rid)             # or requests.verify(rid, "anna", "called back")
    requests.confirm(rid, "123456")     # the person's code: verified
    requests.send_code(rid); requests.confirm(rid, "654321")   # erasure confirmed (L4)
    requests.process(rid)               # runs the steps; waits for recipients; completes

Staff names (``staff``) are audit labels; the staff CLI takes them from ``--staff`` or
``$USER``. The engine itself acts on the vault as the system actor ``system:requests``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from integritet.audit import AuditEvent, AuditLog
from integritet.clock import Clock, SystemClock
from integritet.connectors.base import Connector
from integritet.consent import ConsentLedger
from integritet.db import session_factory, upgrade
from integritet.errors import RequestError
from integritet.manifest import Manifest
from integritet.requests import access, erase, notices, propagate, rectify, restrict
from integritet.requests.context import Context
from integritet.requests.keys import RequestKeys
from integritet.requests.lifecycle import Kind, Lifecycle, RequestView, Status, new_request_id
from integritet.requests.models import HistoryRow, RecipientTaskRow, StepRow
from integritet.requests.object import Suppressions
from integritet.requests.people import read_held, real_vault
from integritet.requests.ports import Detail, MailerPort, OutboxPort, VaultPort
from integritet.requests.runner import FaultHook, Runner
from integritet.requests.verify import Codes
from integritet.settings import Settings

IDENTITY_OPTIONS = ("email", "phone", "personnummer")


class AuditAdapter:
    """Writes request events to :class:`~integritet.audit.AuditLog`."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def record(
        self,
        session: Session | None,
        *,
        actor: str,
        action: str,
        outcome: str,
        subject: str | None = None,
        detail: Detail | None = None,
    ) -> int:
        event = AuditEvent(
            actor=actor,
            action=action,
            outcome=outcome,  # type: ignore[arg-type]
            subject=subject,
            detail=dict(detail or {}),
        )
        return self.log.write(session, event)


class Requests:
    """Data-subject requests over one vault, database and manifest."""

    def __init__(self, ctx: Context, fault: FaultHook | None = None) -> None:
        self.ctx = ctx
        self.lifecycle = Lifecycle(ctx)
        self.codes = Codes(ctx, self.lifecycle)
        self.runner = Runner(ctx, self.lifecycle, fault)
        self.suppressions = Suppressions(ctx.engine, ctx.keys, ctx.clock)

    def close(self) -> None:
        """Close the database connections (the engine's pool and the connectors')."""
        closer = getattr(self.ctx.outbox, "close", None)
        if closer is not None:
            closer()
        for connector in self.ctx.connectors.values():
            engine = getattr(connector, "engine", None)
            if engine is not None:
                engine.dispose()
        self.ctx.engine.dispose()

    # ------------------------------------------------------------ intake
    def new(
        self,
        kind: Kind | str,
        *,
        email: str | None = None,
        phone: str | None = None,
        personnummer: str | None = None,
        subject: str | None = None,
        changes: Mapping[str, Mapping[str, str]] | None = None,
        actor: str = "system:requests",
    ) -> str:
        """Register a request; exactly one of email, phone, personnummer or subject."""
        kind = Kind(kind)
        given = {
            k: v
            for k, v in (("email", email), ("phone", phone), ("personnummer", personnummer))
            if v
        }
        if len(given) + (subject is not None) != 1:
            raise RequestError("give exactly one of --email, --phone, --personnummer or --subject")
        if kind == Kind.rectification:
            rectify.validate_changes(self.ctx.manifest, changes or {})
        payload: dict[str, Any] = {"changes": {k: dict(v) for k, v in (changes or {}).items()}}
        ctx = self.ctx
        value: str | None
        subject_id: str | None
        request_id = new_request_id()
        if subject is not None and real_vault(ctx) is not None:
            # the identities are read and the request stored in one transaction
            with ctx.sessions() as session, session.begin():
                held = read_held(ctx, subject, request_id, identities_only=True, session=session)
                return self.lifecycle.create(
                    kind,
                    identity_kind="subject",
                    identity_value=None,
                    subject_id=subject,
                    contact=held.identities.get("email"),
                    payload=payload,
                    actor=actor,
                    request_id=request_id,
                    session=session,
                )
        if subject is not None:
            known = ctx.vault.identities(
                ctx.system, ctx.any_purpose, subject, rights_request=request_id
            )
            identity_kind, value, subject_id = "subject", None, subject
            contact = known.get("email")
        else:
            identity_kind, given_value = next(iter(given.items()))
            value = given_value
            subject_id = ctx.vault.find_subject(
                ctx.system, ctx.any_purpose, identity_kind, given_value
            )
            payload["identity"] = {"kind": identity_kind, "value": given_value}
            contact = given_value if identity_kind == "email" else None
            if contact is None and subject_id is not None:
                contact = ctx.vault.identities(
                    ctx.system, ctx.any_purpose, subject_id, rights_request=request_id
                ).get("email")
        return self.lifecycle.create(
            kind,
            identity_kind=identity_kind,
            identity_value=value,
            subject_id=subject_id,
            contact=contact,
            payload=payload,
            actor=actor,
            request_id=request_id,
        )

    # ------------------------------------------------------------ reading
    def get(self, request_id: str) -> RequestView:
        return self.lifecycle.get(request_id)

    def list_requests(
        self, *, overdue: bool = False, status: Status | None = None
    ) -> list[RequestView]:
        return self.lifecycle.list_requests(overdue=overdue, status=status)

    def history(self, request_id: str) -> list[HistoryRow]:
        return self.lifecycle.history(request_id)

    def steps(self, request_id: str) -> list[StepRow]:
        return self.runner.steps(request_id)

    def tasks(self, request_id: str) -> list[RecipientTaskRow]:
        return propagate.tasks(self.ctx, request_id)

    def show(self, request_id: str) -> dict[str, Any]:
        """Everything staff see about a request, JSON-ready, without personal values."""
        data = self.get(request_id).as_dict(self.ctx.clock.now())
        data["history"] = [
            {
                "at": h.at.isoformat(),
                "actor": h.actor,
                "from": h.from_status,
                "to": h.to_status,
                "audit_position": h.audit_position,
            }
            for h in self.history(request_id)
        ]
        data["steps"] = [
            {"name": s.name, "status": s.status, "attempts": s.attempts, "result": s.result}
            for s in self.steps(request_id)
        ]
        data["recipients"] = [
            {
                "recipient": t.recipient_id,
                "method": t.method,
                "status": t.status,
                "idempotency_key": t.idempotency_key,
            }
            for t in self.tasks(request_id)
        ]
        return data

    # ------------------------------------------------------------ verification
    def verify(self, request_id: str, staff: str, note: str) -> None:
        self.lifecycle.verify_by_staff(request_id, staff, note)

    def send_code(self, request_id: str) -> str:
        return self.codes.send(request_id)

    def confirm(self, request_id: str, code: str) -> Status:
        return self.codes.check(request_id, code)

    def approve(self, request_id: str, staff: str) -> None:
        self.lifecycle.approve(request_id, staff)

    def verify_by_link(self, request_id: str, subject_id: str) -> bool:
        """The person filed the request while signed in by a one-time link sent to their own
        address: that is the identity check (history method ``signed_in_link``).

        Only a ``received`` request about ``subject_id`` itself moves; returns whether it did.
        """
        label = f"subject:{subject_id}"
        with self.ctx.sessions() as session, session.begin():
            row = self.lifecycle.load(session, request_id, lock=True)
            if row.subject_id != subject_id:
                raise RequestError(f"request {request_id} is not about the signed-in person")
            if row.status != Status.received.value:
                return False
            row.verified_by = label
            self.lifecycle.transition(session, row, Status.verified, label, method="signed_in_link")
        return True

    # ------------------------------------------------------------ decisions
    def extend(self, request_id: str, staff: str, reason: str) -> datetime:
        until = self.lifecycle.extend(request_id, staff, reason)
        self._tell(request_id, "extended", until=until.date().isoformat(), reason=reason)
        return until

    def reject(
        self, request_id: str, staff: str, reason: str, exception: str | None = None
    ) -> None:
        self.lifecycle.reject(request_id, staff, reason, exception)
        self._tell(request_id, "rejected", reason=reason)

    def _tell(self, request_id: str, key: str, **params: Any) -> None:
        with self.ctx.sessions() as session:
            row = self.lifecycle.load(session, request_id)
            contact = self.lifecycle.open_value(row, "contact_sealed")
        notices.send(self.ctx, contact, key, request=request_id, kind=row.kind, **params)

    # ------------------------------------------------------------ work
    def process(self, request_id: str) -> Status:
        return self.runner.process(request_id)

    def process_many(
        self, request_ids: list[str], *, batch: int = 50, workers: int = 1
    ) -> dict[str, Status]:
        """Process these requests, erasures ``batch`` at a time on ``workers`` threads
        (see :mod:`integritet.requests.batch`); returns each request's status."""
        return self.runner.process_many(request_ids, batch=batch, workers=workers)

    def process_all(
        self, progress: Callable[[str, Status], None] | None = None
    ) -> dict[str, Status]:
        """Process every request that can move now; errors of one do not stop the others."""
        done: dict[str, Status] = {}
        for request_id in self.runner.runnable():
            done[request_id] = self.process(request_id)
            if progress is not None:
                progress(request_id, done[request_id])
        return done

    def confirm_recipient(
        self,
        request_id: str,
        recipient_id: str,
        staff: str,
        note: str | None = None,
        *,
        waive: bool = False,
    ) -> None:
        propagate.confirm(
            self.ctx, self.lifecycle, request_id, recipient_id, staff, note, waive=waive
        )

    def lift_restriction(self, request_id: str, staff: str) -> None:
        restrict.lift(self.ctx, self.lifecycle, request_id, staff)

    # ------------------------------------------------------------ outputs
    def report(self, request_id: str) -> access.Report:
        """The access (or portability) report of a request: the one this engine built when
        it completed the request, if that was within the last minute (kept in memory only,
        handed out once); otherwise built now through the vault."""
        kept = self.runner.take_report(request_id)
        if kept is not None:  # only a completed access or portability request leaves one
            return kept
        with self.ctx.sessions() as session:
            row = self.lifecycle.load(session, request_id)
        if row.kind not in (Kind.access.value, Kind.portability.value):
            raise RequestError(f"request {request_id} is {row.kind}, not access or portability")
        if row.status in (Status.received.value, Status.rejected.value):
            raise RequestError(f"request {request_id} is {row.status}; no data is released")
        return access.report_for(self.ctx, self.lifecycle, row)

    def receipt(self, request_id: str) -> dict[str, Any]:
        return erase.receipt(self.ctx, request_id)


def dataset_connectors(
    manifest: Manifest, env: Mapping[str, str] | None = None
) -> dict[str, Connector]:
    """SQL connectors for the manifest's datasets whose URL is known."""
    from integritet.connectors.sql import SQLConnector

    env = os.environ if env is None else env
    found: dict[str, Connector] = {}
    for dataset in manifest.datasets:
        url = env.get(dataset.url_env) if dataset.url_env else None
        url = url or dataset.url
        if url:
            found[dataset.id] = SQLConnector(dataset, url, manifest=manifest)
    return found


def default_mailer(settings: Settings) -> MailerPort | None:
    """``integritet.mail.Mailer(settings)`` when the mail module is installed, else None."""
    try:
        module = importlib.import_module("integritet.mail")
    except ImportError:
        return None
    factory = getattr(module, "Mailer", None)
    return None if factory is None else cast(MailerPort, factory(settings))


def open_requests(
    settings: Settings,
    manifest: Manifest,
    clock: Clock | None = None,
    *,
    vault: VaultPort | None = None,
    mailer: MailerPort | None = None,
    outbox: OutboxPort | None = None,
    connectors: Mapping[str, Connector] | None = None,
    consent: ConsentLedger | None = None,
    fault: FaultHook | None = None,
    notify: Callable[[str], None] | None = None,
) -> Requests:
    """Open the request engine on the vault's database (created on first use)."""
    from integritet.vault import open_vault

    clock = clock or SystemClock()
    real = open_vault(settings, manifest, clock, notify=notify) if vault is None else None
    engine = real.engine if real is not None else getattr(vault, "engine")  # noqa: B009
    audit_log: AuditLog = real.audit if real is not None else getattr(vault, "audit")  # noqa: B009
    if not inspect(engine).has_table("dsr_request"):
        upgrade(engine)
    keys = RequestKeys.load_or_create(settings.home).with_signing_key(audit_log.signing_key())
    if mailer is None:
        mailer = default_mailer(settings)
    if outbox is None:
        from integritet.connectors.webhook import WebhookOutbox

        outbox = WebhookOutbox.for_manifest(engine, clock, manifest)
    vault_port: VaultPort | None = real if real is not None else vault
    assert vault_port is not None
    ctx = Context(
        manifest=manifest,
        engine=engine,
        sessions=session_factory(engine),
        clock=clock,
        keys=keys,
        audit=AuditAdapter(audit_log),
        vault=vault_port,
        mailer=mailer,
        outbox=outbox,
        connectors=dict(connectors) if connectors is not None else dataset_connectors(manifest),
        consent=consent
        or ConsentLedger(
            engine,
            manifest,
            clock=clock,
            is_suppressed=Suppressions(engine, keys, clock).is_suppressed,
        ),
    )
    return Requests(ctx, fault)
