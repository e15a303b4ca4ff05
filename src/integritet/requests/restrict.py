"""Restriction (Art. 18, P9): storage only until staff lift it; recipients are told.

The ``restrict`` step marks the subject in the vault, which from then on refuses every
processing but storage (:class:`~integritet.errors.SubjectRestricted`). Lifting is a staff
action (:func:`lift`): done by the request engine's system actor and audited under the
staff member's name.
"""

from __future__ import annotations

from typing import Any

from integritet.errors import RequestError
from integritet.requests.context import Context
from integritet.requests.lifecycle import Kind, Lifecycle, Status


def restrict(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    """Step: restrict the subject (idempotent)."""
    with ctx.sessions() as session:
        row = lc.load(session, request_id)
    if row.subject_id is None:
        return {"restricted": False, "reason": "no subject in the vault"}
    if not ctx.vault.is_restricted(row.subject_id):
        ctx.vault.restrict(ctx.system, row.subject_id, f"request {request_id}")
    return {"restricted": True}


def lift(ctx: Context, lc: Lifecycle, request_id: str, staff: str) -> None:
    """Staff lift the restriction a completed restriction request put in place."""
    with ctx.sessions() as session:
        row = lc.load(session, request_id)
    if row.kind != Kind.restriction.value or row.subject_id is None:
        raise RequestError(f"request {request_id} is not a restriction of a known subject")
    if row.status != Status.completed.value and row.status != Status.waiting_for_recipients.value:
        raise RequestError(f"request {request_id} is {row.status}; nothing to lift yet")
    ctx.vault.lift_restriction(ctx.system, row.subject_id)
    ctx.audit.record(
        None,
        actor=f"staff:{staff}",
        action="request.restriction_lifted",
        outcome="done",
        subject=row.subject_id,
        detail={"request": request_id},
    )
