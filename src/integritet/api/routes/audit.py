"""The audit log: verify the chain, export it (J16: a customer admin gets their own events).

Staff whose role can ``read_audit`` with scope ``all`` see and export every event (or one
customer's, with ``customer=``); a role with scope ``own_customer`` gets only its own
customer's events, and only when the manifest offers the log to customers
(``security.customer_audit_log``). Rows carry pseudonymous ids only.
"""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from integritet.api.app import state
from integritet.api.auth import Caller, Principal, allow
from integritet.errors import AccessDenied
from integritet.services import Services

router = APIRouter(prefix="/audit", tags=["audit"])


def _customer_scope(services: Services, who: Principal, asked: str | None) -> str | None:
    """The customer whose events the caller may read (None: every event)."""
    allow(services, who, "read_audit")
    actor = who.actor
    if actor.kind == "system":
        return asked
    roles = {r.id: r for r in services.manifest.roles}
    scopes = {
        roles[r].scope.value for r in actor.roles if r in roles and "read_audit" in roles[r].can
    }
    if "all" in scopes:
        return asked
    if "own_customer" in scopes and actor.customer is not None:
        if not services.manifest.security.customer_audit_log:
            raise AccessDenied("the manifest does not offer the audit log to customers")
        if asked not in (None, actor.customer):
            raise AccessDenied(f"{actor.label} reads only its own customer's audit events")
        return actor.customer
    raise AccessDenied(f"{actor.label} has no role that reads this audit log")


@router.get("/verify", response_model=dict[str, Any])
def verify(who: Caller, request: Request) -> dict[str, Any]:
    """Walk the hash chain and the signed checkpoints; name the first bad position."""
    services = state(request).services
    if _customer_scope(services, who, None) is not None:
        raise AccessDenied("verifying the whole chain is for staff with scope all")
    result = services.audit.verify()
    return {
        "ok": result.ok,
        "rows": result.rows,
        "checkpoints": result.checkpoints,
        "last_position": result.last_position,
        "last_hash": result.last_hash,
        "bad_position": result.bad_position,
        "reason": result.reason,
    }


@router.get(
    "/export",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
def export(
    who: Caller,
    request: Request,
    format: Literal["jsonl", "csv"] = "jsonl",
    customer: Annotated[str | None, Query(max_length=32)] = None,
) -> PlainTextResponse:
    """Audit events as JSON lines or CSV (a customer admin: their customer's only)."""
    services = state(request).services
    scope = _customer_scope(services, who, customer)
    out = io.StringIO()
    services.audit.export(out, format, customer=scope)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    return PlainTextResponse(out.getvalue(), media_type=f"{media}; charset=utf-8")
