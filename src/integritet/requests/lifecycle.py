"""The request state machine: states, deadlines, extensions, staff decisions.

States::

    received -> verified -> [confirmed] -> in_progress -> [waiting_for_recipients] -> completed
        \\-----------\\------------\\--> rejected

``confirmed`` is required for erasure when the manifest says ``rights.confirm_erasure``
(L4); other kinds may pass through it when staff approve them. The deadline is one
calendar month from receipt (or ``rights.deadline_days`` when shorter); staff may extend
it once, within the first month and with a reason the person is told, by up to two
months (``rights.extension_days``), Art. 12(3). Every transition is written to
``dsr_history`` and to the audit log in the same transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.clock import utc
from integritet.errors import NotFound, RequestError
from integritet.manifest.model import Duration, Rights
from integritet.requests.context import Context
from integritet.requests.models import HistoryRow, RequestRow


class Kind(StrEnum):
    access = "access"
    portability = "portability"
    rectification = "rectification"
    restriction = "restriction"
    erasure = "erasure"
    objection = "objection"


class Status(StrEnum):
    received = "received"
    verified = "verified"
    confirmed = "confirmed"
    in_progress = "in_progress"
    waiting_for_recipients = "waiting_for_recipients"
    completed = "completed"
    rejected = "rejected"


OPEN = frozenset(
    {
        Status.received,
        Status.verified,
        Status.confirmed,
        Status.in_progress,
        Status.waiting_for_recipients,
    }
)
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.received: frozenset({Status.verified, Status.rejected}),
    Status.verified: frozenset({Status.confirmed, Status.in_progress, Status.rejected}),
    Status.confirmed: frozenset({Status.in_progress, Status.rejected}),
    Status.in_progress: frozenset({Status.waiting_for_recipients, Status.completed}),
    Status.waiting_for_recipients: frozenset({Status.completed}),
    Status.completed: frozenset(),
    Status.rejected: frozenset(),
}


def new_request_id() -> str:
    """A fresh random request id (32 hex digits)."""
    return uuid.uuid4().hex


def deadline_for(received: datetime, rights: Rights) -> datetime:
    """One calendar month from receipt, or ``deadline_days`` when the company promises less."""
    month = Duration(1, "m").after(received)
    if rights.deadline_days >= 30:
        return month
    return min(month, received + timedelta(days=rights.deadline_days))


def extended_deadline(deadline: datetime, rights: Rights) -> datetime:
    """The deadline after the one allowed extension (two calendar months at most)."""
    if rights.extension_days >= 59:
        return Duration(2, "m").after(deadline)
    return deadline + timedelta(days=rights.extension_days)


@dataclass(frozen=True)
class RequestView:
    """A request as staff see it: no personal values, only ids, states and dates."""

    id: str
    kind: Kind
    status: Status
    subject_id: str | None
    identity_kind: str
    received_at: datetime
    deadline: datetime
    extended: bool
    policy_version: str
    completed_at: datetime | None
    rejection_exception: str | None

    def overdue(self, now: datetime) -> bool:
        return self.status in OPEN and utc(now) > utc(self.deadline)

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value,
            "status": self.status.value,
            "subject": self.subject_id,
            "identity_kind": self.identity_kind,
            "received_at": utc(self.received_at).isoformat(),
            "deadline": utc(self.deadline).isoformat(),
            "extended": self.extended,
            "policy_version": self.policy_version,
            "completed_at": utc(self.completed_at).isoformat() if self.completed_at else None,
            "rejection_exception": self.rejection_exception,
        }
        if now is not None:
            data["overdue"] = self.overdue(now)
        return data


def view(row: RequestRow) -> RequestView:
    return RequestView(
        id=row.id,
        kind=Kind(row.kind),
        status=Status(row.status),
        subject_id=row.subject_id,
        identity_kind=row.identity_kind,
        received_at=utc(row.received_at),
        deadline=utc(row.extended_until or row.deadline),
        extended=row.extended_until is not None,
        policy_version=row.policy_version,
        completed_at=utc(row.completed_at) if row.completed_at else None,
        rejection_exception=row.rejection_exception,
    )


class Lifecycle:
    """Creating requests and moving them between states, audited."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------ reading
    def load(self, session: Session, request_id: str, *, lock: bool = False) -> RequestRow:
        row = session.get(RequestRow, request_id, with_for_update=lock)
        if row is None:
            raise NotFound(f"no request with id {request_id!r}")
        return row

    def load_many(
        self, session: Session, request_ids: list[str], *, lock: bool = False
    ) -> dict[str, RequestRow]:
        """The rows of those requests that exist, by id (in id order), optionally locked."""
        query = select(RequestRow).where(RequestRow.id.in_(request_ids)).order_by(RequestRow.id)
        if lock:
            query = query.with_for_update()
        return {row.id: row for row in session.scalars(query)}

    def get(self, request_id: str) -> RequestView:
        with self.ctx.sessions() as session:
            return view(self.load(session, request_id))

    def list_requests(
        self, *, overdue: bool = False, status: Status | None = None
    ) -> list[RequestView]:
        now = self.ctx.clock.now()
        query = select(RequestRow).order_by(RequestRow.received_at, RequestRow.id)
        if status is not None:
            query = query.where(RequestRow.status == status.value)
        with self.ctx.sessions() as session:
            views = [view(row) for row in session.scalars(query)]
        return [v for v in views if v.overdue(now)] if overdue else views

    def open_value(self, row: RequestRow, column: str) -> str | None:
        blob: bytes | None = getattr(row, column)
        return None if blob is None else self.ctx.keys.open(blob, f"{row.id}|{column}")

    def seal_value(self, row: RequestRow, column: str, value: str | None) -> None:
        sealed = None if value is None else self.ctx.keys.seal(value, f"{row.id}|{column}")
        setattr(row, column, sealed)

    def payload(self, row: RequestRow) -> dict[str, Any]:
        raw = self.open_value(row, "payload_sealed")
        return {} if raw is None else dict(json.loads(raw))

    # ------------------------------------------------------------ creating
    def create(
        self,
        kind: Kind,
        *,
        identity_kind: str,
        identity_value: str | None,
        subject_id: str | None,
        contact: str | None,
        payload: Mapping[str, Any] | None = None,
        actor: str = "system:requests",
        request_id: str | None = None,
        session: Session | None = None,
    ) -> str:
        """Store a ``received`` request (in ``session``'s transaction when given)."""
        now = self.ctx.clock.now()
        row = RequestRow(
            id=request_id or new_request_id(),
            kind=kind.value,
            status=Status.received.value,
            subject_id=subject_id,
            identity_kind=identity_kind,
            identity_blind=(
                self.ctx.keys.blind(identity_kind, identity_value) if identity_value else None
            ),
            policy_version=self.ctx.manifest.policy.version,
            received_at=now,
            deadline=deadline_for(now, self.ctx.manifest.rights),
            updated_at=now,
        )
        self.seal_value(row, "contact_sealed", contact)
        if payload:
            self.seal_value(row, "payload_sealed", json.dumps(payload, sort_keys=True))
        if session is not None:
            session.add(row)
            session.flush()
            self._history(session, row, None, Status.received, actor)
            return row.id
        with self.ctx.sessions() as own, own.begin():
            own.add(row)
            own.flush()
            self._history(own, row, None, Status.received, actor)
        return row.id

    # ------------------------------------------------------------ moving
    def transition(
        self, session: Session, row: RequestRow, to: Status, actor: str, **detail: str | int | None
    ) -> None:
        """Move ``row`` to ``to`` (checked against :data:`TRANSITIONS`), audited in ``session``."""
        current = Status(row.status)
        if to not in TRANSITIONS[current]:
            raise RequestError(f"request {row.id} is {current.value}; it cannot become {to.value}")
        now = self.ctx.clock.now()
        row.status = to.value
        row.updated_at = now
        if to == Status.completed:
            row.completed_at = now
        self._history(session, row, current, to, actor, **detail)

    def transition_many(
        self, session: Session, rows: list[RequestRow], to: Status, actor: str
    ) -> None:
        """:meth:`transition` for a batch: one ``request.transition`` audit event per
        starting state (detail: the request ids and their count) that every history row
        of the batch points to."""
        groups: dict[str, list[RequestRow]] = {}
        for row in rows:
            if to not in TRANSITIONS[Status(row.status)]:
                raise RequestError(f"request {row.id} is {row.status}; it cannot become {to.value}")
            groups.setdefault(row.status, []).append(row)
        now = self.ctx.clock.now()
        for before, group in groups.items():
            for row in group:
                row.status, row.updated_at = to.value, now
                if to == Status.completed:
                    row.completed_at = now
            position = self.ctx.audit.record(
                session,
                actor=actor,
                action="request.transition",
                outcome="done",
                detail={
                    "requests": ",".join(row.id for row in group),
                    "count": len(group),
                    "kind": ",".join(sorted({row.kind for row in group})),
                    "from": before,
                    "to": to.value,
                },
            )
            session.add_all(
                HistoryRow(
                    request_id=row.id,
                    at=now,
                    actor=actor,
                    from_status=before,
                    to_status=to.value,
                    audit_position=position,
                )
                for row in group
            )

    def _history(
        self,
        session: Session,
        row: RequestRow,
        before: Status | None,
        to: Status,
        actor: str,
        **detail: str | int | None,
    ) -> None:
        position = self.ctx.audit.record(
            session,
            actor=actor,
            action="request.transition",
            outcome="done",
            subject=row.subject_id,
            detail={
                "request": row.id,
                "kind": row.kind,
                "from": before.value if before else None,
                "to": to.value,
                **detail,
            },
        )
        session.add(
            HistoryRow(
                request_id=row.id,
                at=self.ctx.clock.now(),
                actor=actor,
                from_status=before.value if before else None,
                to_status=to.value,
                audit_position=position,
            )
        )

    def history(self, request_id: str) -> list[HistoryRow]:
        with self.ctx.sessions() as session:
            query = select(HistoryRow).where(HistoryRow.request_id == request_id)
            return list(session.scalars(query.order_by(HistoryRow.id)))

    # ------------------------------------------------------------ staff decisions
    def verify_by_staff(self, request_id: str, staff: str, note: str) -> None:
        """Staff record that they verified the person's identity, with a note (kept sealed)."""
        if not note.strip():
            raise RequestError("a staff verification needs a note saying how identity was checked")
        with self.ctx.sessions() as session, session.begin():
            row = self.load(session, request_id, lock=True)
            row.verified_by = f"staff:{staff}"
            self.seal_value(row, "verification_note_sealed", note)
            self.transition(session, row, Status.verified, f"staff:{staff}", method="staff")

    def approve(self, request_id: str, staff: str) -> None:
        """Staff record the person's confirmation (erasure, L4) or approve the request."""
        with self.ctx.sessions() as session, session.begin():
            row = self.load(session, request_id, lock=True)
            if row.status == Status.received.value:
                raise RequestError(
                    f"request {request_id} is not verified yet; verify the person's identity first"
                )
            row.confirmed_by = f"staff:{staff}"
            self.transition(session, row, Status.confirmed, f"staff:{staff}", method="staff")

    def extend(self, request_id: str, staff: str, reason: str) -> datetime:
        """Extend the deadline once by up to two months (Art. 12(3)); returns the new deadline."""
        if not reason.strip():
            raise RequestError("an extension needs a reason; the person is told it")
        now = self.ctx.clock.now()
        with self.ctx.sessions() as session, session.begin():
            row = self.load(session, request_id, lock=True)
            if Status(row.status) not in OPEN:
                raise RequestError(f"request {request_id} is {row.status}; it cannot be extended")
            if row.extended_until is not None:
                raise RequestError(f"request {request_id} was already extended once")
            if now > utc(row.deadline):
                raise RequestError(
                    f"request {request_id} is past its first deadline; an extension must be "
                    "decided and told within the first month (Art. 12(3))"
                )
            if self.ctx.manifest.rights.extension_days == 0:
                raise RequestError("the manifest allows no extension (rights.extension_days: 0)")
            row.extended_until = extended_deadline(utc(row.deadline), self.ctx.manifest.rights)
            row.updated_at = now
            self.seal_value(row, "extension_reason_sealed", reason)
            self.ctx.audit.record(
                session,
                actor=f"staff:{staff}",
                action="request.extend",
                outcome="done",
                subject=row.subject_id,
                detail={"request": row.id, "until": row.extended_until.isoformat()},
            )
            return row.extended_until

    def reject(
        self, request_id: str, staff: str, reason: str, exception: str | None = None
    ) -> None:
        """Reject with a reason (told to the person with the right to complain to IMY)."""
        if not reason.strip():
            raise RequestError("a rejection needs a reason; the person is told it")
        with self.ctx.sessions() as session, session.begin():
            row = self.load(session, request_id, lock=True)
            if exception is not None:
                allowed = [e.value for e in self.ctx.manifest.rights.erasure_exceptions]
                if row.kind != Kind.erasure.value:
                    raise RequestError("an erasure exception applies to erasure requests only")
                if exception not in allowed:
                    raise RequestError(
                        f"erasure exception {exception!r} is not in the manifest's "
                        f"rights.erasure_exceptions ({', '.join(allowed) or 'none'})"
                    )
            row.rejection_exception = exception
            self.seal_value(row, "rejection_sealed", reason)
            self.transition(session, row, Status.rejected, f"staff:{staff}", exception=exception)
