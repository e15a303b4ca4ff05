"""Identity verification and erasure confirmation by one-time email codes.

A code is six random digits (``secrets``), emailed through the mailer, stored only as
an HMAC under the request key, valid for ``rights.code_ttl_minutes``, good for one use
and at most :data:`MAX_ATTEMPTS` guesses. Sending is rate-limited per request
(:data:`PER_REQUEST` per hour) and per identity (:data:`PER_IDENTITY` per day), so
nobody can flood a mailbox. Codes are compared in constant time.

The same mechanism confirms an erasure with the person (L4): a ``verify`` code moves a
request from ``received`` to ``verified``; a ``confirm`` code moves an erasure from
``verified`` to ``confirmed``.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integritet.clock import utc
from integritet.errors import RequestError, VerificationFailed
from integritet.requests import notices
from integritet.requests.context import Context
from integritet.requests.lifecycle import Kind, Lifecycle, Status
from integritet.requests.models import CodeRow, RequestRow

MAX_ATTEMPTS = 5
PER_REQUEST = 3  # codes per request per hour
PER_IDENTITY = 5  # codes per identity per 24 hours


def _purpose(row: RequestRow) -> str:
    if row.status == Status.received.value:
        return "verify"
    if row.status == Status.verified.value and row.kind == Kind.erasure.value:
        return "confirm"
    raise RequestError(f"request {row.id} is {row.status}; there is nothing to confirm by code")


class Codes:
    """Send and check one-time codes for a request."""

    def __init__(self, ctx: Context, lifecycle: Lifecycle) -> None:
        self.ctx = ctx
        self.lifecycle = lifecycle

    def send(self, request_id: str) -> str:
        """Email a fresh code to the request's contact address; returns the purpose."""
        ctx = self.ctx
        if ctx.mailer is None:
            raise RequestError("no mailer is configured; verify by staff note instead")
        now = ctx.clock.now()
        code = f"{secrets.randbelow(10**6):06d}"
        with ctx.sessions() as session, session.begin():
            row = self.lifecycle.load(session, request_id, lock=True)
            purpose = _purpose(row)
            contact = self.lifecycle.open_value(row, "contact_sealed")
            if not contact:
                raise RequestError(
                    f"request {request_id} has no email address to send a code to; "
                    "verify by staff note instead"
                )
            self._check_rate(session, row)
            session.add(
                CodeRow(
                    request_id=row.id,
                    identity_blind=row.identity_blind,
                    purpose=purpose,
                    code_hash=ctx.keys.code_hash(row.id, code),
                    created_at=now,
                    expires_at=now + timedelta(minutes=ctx.manifest.rights.code_ttl_minutes),
                    attempts=0,
                )
            )
            ctx.audit.record(
                session,
                actor="system:requests",
                action="request.code_sent",
                outcome="done",
                subject=row.subject_id,
                detail={"request": row.id, "purpose": purpose},
            )
        # Sent after the code is stored: a failed send leaves an unused code, never a
        # code in someone's mailbox that the database does not know.
        notices.send(
            ctx,
            contact,
            "code" if purpose == "verify" else "confirm",
            request=request_id,
            code=code,
            minutes=ctx.manifest.rights.code_ttl_minutes,
        )
        return purpose

    def _check_rate(self, session: Session, row: RequestRow) -> None:
        hour_ago = self.ctx.clock.now() - timedelta(hours=1)
        per_request = session.scalar(
            select(func.count(CodeRow.id)).where(
                CodeRow.request_id == row.id, CodeRow.created_at > hour_ago
            )
        )
        if (per_request or 0) >= PER_REQUEST:
            raise VerificationFailed(
                f"too many codes for request {row.id}; wait an hour before asking again"
            )
        if row.identity_blind is None:
            return
        day_ago = self.ctx.clock.now() - timedelta(hours=24)
        per_identity = session.scalar(
            select(func.count(CodeRow.id)).where(
                CodeRow.identity_blind == row.identity_blind, CodeRow.created_at > day_ago
            )
        )
        if (per_identity or 0) >= PER_IDENTITY:
            raise VerificationFailed("too many codes for this identity today; try again tomorrow")

    def check(self, request_id: str, code: str) -> Status:
        """Check ``code``; on success move the request on and return its new status."""
        ctx = self.ctx
        now = ctx.clock.now()
        wanted = ctx.keys.code_hash(request_id, code)
        failure: str | None = None
        with ctx.sessions() as session, session.begin():
            row = self.lifecycle.load(session, request_id, lock=True)
            purpose = _purpose(row)
            latest = session.scalars(
                select(CodeRow)
                .where(CodeRow.request_id == row.id, CodeRow.purpose == purpose)
                .order_by(CodeRow.id.desc())
                .limit(1)
            ).first()
            if latest is None or latest.used_at is not None:
                failure = "no valid code was sent for this request; ask for a new one"
            elif utc(latest.expires_at) < now:
                failure = "the code has expired; ask for a new one"
            elif latest.attempts >= MAX_ATTEMPTS:
                failure = "too many wrong codes; ask for a new one"
            else:
                latest.attempts += 1
                if hmac.compare_digest(latest.code_hash, wanted):
                    latest.used_at = now
                    return self._passed(session, row, purpose)
                failure = "the code is wrong"
            ctx.audit.record(
                session,
                actor="system:requests",
                action="request.code_checked",
                outcome="denied",
                subject=row.subject_id,
                detail={"request": row.id, "purpose": purpose},
            )
        raise VerificationFailed(failure)

    def _passed(self, session: Session, row: RequestRow, purpose: str) -> Status:
        actor = "subject:code"
        if purpose == "verify":
            row.verified_by = actor
            self.lifecycle.transition(session, row, Status.verified, actor, method="email_code")
            return Status.verified
        row.confirmed_by = actor
        self.lifecycle.transition(session, row, Status.confirmed, actor, method="email_code")
        return Status.confirmed
