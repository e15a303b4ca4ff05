"""Console pages over the audit log: the log itself (paged) and the retention overview.

``/console/audit`` shows 50 events at a time, newest first; ``?before=<position>`` pages
back. Walking the whole hash chain is a button (``POST /console/audit/verify``): its result
and time are kept per app, so opening the page reads one page of rows, never the whole
log. Staff whose role reads the audit log with scope ``all`` see every event; a customer
admin whose role has ``read_audit`` sees only their own customer's events and exports only
those (J16), when the manifest offers the log to customers (``security.customer_audit_log``)
- the same rule as ``/api/v1/audit``.

``/console/retention`` counts deletions per month over the last 24 months only.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from integritet import retention
from integritet.api.app import state
from integritet.api.routes.audit import _customer_scope
from integritet.audit import AuditEvent
from integritet.audit.chain import format_at, parse_at
from integritet.audit.log import AuditEventRow
from integritet.errors import AccessDenied
from integritet.web.console import principal
from integritet.web.console_more import _customers, need
from integritet.web.i18n import lang_of, translate
from integritet.web.render import page, redirect
from integritet.web.session import Staff, WebRoute

router = APIRouter(prefix="/console", route_class=WebRoute, include_in_schema=False)
PAGE = 50
CHART_MONTHS = 24


@dataclass(frozen=True)
class Row:
    """One audit event as the console lists it (pseudonymous ids only)."""

    position: int
    at: datetime
    actor: str
    action: str
    outcome: str
    purpose: str | None


@dataclass(frozen=True)
class ChainCheck:
    """The last full verification of the chain, and when it ran."""

    ok: bool
    rows: int
    checkpoints: int
    bad_position: int | None
    reason: str | None
    checked_at: datetime
    by: str


def events_page(
    request: Request, customer: str | None, before: int | None, size: int = PAGE
) -> tuple[list[Row], int | None]:
    """``size`` events before position ``before`` (newest first) and the next page's start."""
    query = select(AuditEventRow).order_by(AuditEventRow.position.desc()).limit(size + 1)
    if customer is not None:
        query = query.where(AuditEventRow.customer == customer)
    if before is not None:
        query = query.where(AuditEventRow.position < before)
    with state(request).services.vault.tx() as session:
        rows = list(session.scalars(query))
    shown = [
        Row(r.position, parse_at(r.at), r.actor, r.action, r.outcome, r.purpose)
        for r in rows[:size]
    ]
    more = shown[-1].position if len(rows) > size and shown else None
    return shown, more


def last_check(request: Request) -> ChainCheck | None:
    found: ChainCheck | None = getattr(request.app.state, "web_chain_check", None)
    return found


@router.get("/audit")
def audit_page(
    user: Staff,
    request: Request,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """A page of events, the last chain verification, and the export form."""
    services = state(request).services
    scope = _customer_scope(services, principal(user), None)
    rows, more = events_page(request, scope, before)
    customers = _customers(request)
    if scope is not None:
        customers = [(cid, name) for cid, name in customers if cid == scope]
    return page(
        request,
        "console/audit.html",
        title=translate(lang_of(request), "cnav.audit"),
        scope=scope,
        check=last_check(request) if scope is None else None,
        latest=rows,
        more=more,
        before=before,
        customers=customers,
    )


@router.post("/audit/verify")
def verify_chain(user: Staff, request: Request) -> Response:
    """Walk the whole chain and its signed checkpoints now; keep the result with its time."""
    app = state(request)
    if _customer_scope(app.services, principal(user), None) is not None:
        raise AccessDenied("verifying the whole chain is for staff with scope all")
    result = app.services.audit.verify()
    request.app.state.web_chain_check = ChainCheck(
        result.ok,
        result.rows,
        result.checkpoints,
        result.bad_position,
        result.reason,
        app.clock.now(),
        user.actor.label,
    )
    app.services.audit.append_now(
        AuditEvent(
            actor=user.actor.label,
            action="audit.verified",
            outcome="done" if result.ok else "failed",
            detail={"rows": result.rows, "bad_position": result.bad_position},
        )
    )
    return redirect("/console/audit", "chain_checked")


def deletions_per_month(request: Request, now: datetime) -> list[tuple[str, int]]:
    """Records deleted by retention per month, over the last :data:`CHART_MONTHS` months."""
    start = (now - timedelta(days=CHART_MONTHS * 31)).replace(day=1)
    query = (
        select(AuditEventRow.at, AuditEventRow.detail)
        .where(AuditEventRow.action.like("retention.%"))
        .where(AuditEventRow.at >= format_at(start))
    )
    months: Counter[str] = Counter()
    with state(request).services.vault.tx() as session:
        for at, detail in session.execute(query):
            records = json.loads(detail).get("records", 0)
            months[at[:7]] += records if isinstance(records, int) else 0
    return sorted(months.items())[-CHART_MONTHS:]


@router.get("/retention")
def retention_page(user: Staff, request: Request) -> Response:
    """What is due now (a dry run) and deletions per month (last 24 months)."""
    need(request, user, "run_retention", scope_all=True)
    app = state(request)
    report = retention.plan(app.manifest, app.services.vault, app.clock)
    per_month = deletions_per_month(request, app.clock.now())
    return page(
        request,
        "console/retention.html",
        title=translate(lang_of(request), "cnav.retention"),
        report=report,
        per_month=per_month,
        peak=max([n for _m, n in per_month] or [1]),
    )
