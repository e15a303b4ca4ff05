"""Data-subject requests and their lifecycle (Art. 12-21), for staff and for the person.

Staff need a role that can ``manage_requests`` and whose scope reaches the request's
subject; a signed-in data subject may file and follow requests about themselves only.
Responses carry ids, states and deadlines, never personal values — except the access
report, which is audited as a release of personal data.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from integritet.access import check_action
from integritet.api.app import state
from integritet.api.auth import Caller, Principal, allow, client_ip
from integritet.api.schemas import Code, Created, Note, Reason, RequestIn, Status
from integritet.audit import AuditEvent
from integritet.errors import AccessDenied, NotFound
from integritet.requests import RequestView
from integritet.requests import Status as RequestStatus
from integritet.services import Services

router = APIRouter(prefix="/requests", tags=["requests"])


def _reach(services: Services, who: Principal, subject: str | None) -> None:
    """May the caller act on requests about ``subject``? (scope and tenant)"""
    actor = who.actor
    if actor.kind == "subject":
        if subject != actor.id:
            raise AccessDenied(f"{actor.label} may act only on their own requests")
        return
    allow(services, who, "manage_requests")
    customer = services.vault.subject_customer(subject) if subject else None
    if subject is None:
        roles = {r.id: r for r in services.manifest.roles}
        if actor.kind != "system" and not any(
            roles[r].scope.value == "all" for r in actor.roles if r in roles
        ):
            raise AccessDenied(f"{actor.label} reaches only requests about known subjects")
        return
    check_action(services.manifest, actor, "manage_requests", subject_customer=customer)


def _load(services: Services, who: Principal, request_id: str) -> RequestView:
    if who.actor.kind != "subject":
        allow(services, who, "manage_requests")
    view = services.requests.get(request_id)
    _reach(services, who, view.subject_id)
    return view


def _visible(services: Services, who: Principal, view: RequestView) -> bool:
    try:
        _reach(services, who, view.subject_id)
    except (AccessDenied, NotFound):
        return False
    return True


@router.post("", response_model=Created, status_code=201)
def new_request(who: Caller, body: RequestIn, request: Request) -> Created:
    """File a request by email, phone, personnummer or subject id (a subject: their own)."""
    services = state(request).services
    if who.actor.kind == "subject":
        if (
            body.email
            or body.phone
            or body.personnummer
            or body.subject not in (None, who.actor.id)
        ):
            raise AccessDenied("a data subject files requests about themselves only")
        body.subject = who.actor.id
    else:
        allow(services, who, "manage_requests")
        if body.subject is not None:
            _reach(services, who, body.subject)
    rid = services.requests.new(
        body.kind,
        email=body.email,
        phone=body.phone,
        personnummer=body.personnummer,
        subject=body.subject,
        changes=body.changes,
        actor=who.actor.label,
    )
    if body.subject is None and who.actor.kind != "system":
        _reach(services, who, services.requests.get(rid).subject_id)
    return Created(id=rid)


@router.get("", response_model=list[dict[str, Any]])
def list_requests(
    who: Caller,
    request: Request,
    overdue: bool = False,
    status: Annotated[RequestStatus | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Requests the caller may see, with deadlines; ``overdue=true`` for late ones."""
    services = state(request).services
    if who.actor.kind != "subject":
        allow(services, who, "manage_requests")
    now = state(request).clock.now()
    views = services.requests.list_requests(overdue=overdue, status=status)
    return [v.as_dict(now) for v in views if _visible(services, who, v)]


@router.get("/{request_id}", response_model=dict[str, Any])
def show(who: Caller, request_id: str, request: Request) -> dict[str, Any]:
    """A request with its history, steps and recipients (no personal values)."""
    services = state(request).services
    _load(services, who, request_id)
    return services.requests.show(request_id)


def _status(services: Services, request_id: str) -> Status:
    return Status(id=request_id, status=services.requests.get(request_id).status.value)


@router.post("/{request_id}/verify", response_model=Status)
def verify(who: Caller, request_id: str, body: Note, request: Request) -> Status:
    """Staff verified the person's identity another way (note kept in the history)."""
    services = state(request).services
    _staff_only(who)
    _load(services, who, request_id)
    services.requests.verify(request_id, who.actor.label, body.note)
    return _status(services, request_id)


@router.post("/{request_id}/send-code", response_model=Status)
def send_code(who: Caller, request_id: str, request: Request) -> Status:
    """Email a one-time code to the person (verification, or erasure confirmation, L4)."""
    app = state(request)
    _load(app.services, who, request_id)
    app.limiter.hit(f"code:ip:{client_ip(request)}", f"code:req:{request_id}")
    app.services.requests.send_code(request_id)
    return _status(app.services, request_id)


@router.post("/{request_id}/confirm", response_model=Status)
def confirm(who: Caller, request_id: str, body: Code, request: Request) -> Status:
    """Check the person's one-time code."""
    app = state(request)
    _load(app.services, who, request_id)
    app.limiter.hit(f"confirm:ip:{client_ip(request)}", f"confirm:req:{request_id}")
    app.services.requests.confirm(request_id, body.code)
    return _status(app.services, request_id)


@router.post("/{request_id}/approve", response_model=Status)
def approve(who: Caller, request_id: str, request: Request) -> Status:
    """Staff approve the request (where the manifest asks for it)."""
    services = state(request).services
    _staff_only(who)
    _load(services, who, request_id)
    services.requests.approve(request_id, who.actor.label)
    return _status(services, request_id)


@router.post("/{request_id}/extend", response_model=Status)
def extend(who: Caller, request_id: str, body: Reason, request: Request) -> Status:
    """Extend the deadline (Art. 12(3)); the person is told why."""
    services = state(request).services
    _staff_only(who)
    _load(services, who, request_id)
    services.requests.extend(request_id, who.actor.label, body.reason)
    return _status(services, request_id)


@router.post("/{request_id}/reject", response_model=Status)
def reject(who: Caller, request_id: str, body: Reason, request: Request) -> Status:
    """Reject, with the reason and the legal exception relied on; the person is told."""
    services = state(request).services
    _staff_only(who)
    _load(services, who, request_id)
    services.requests.reject(request_id, who.actor.label, body.reason, body.exception)
    return _status(services, request_id)


@router.post("/{request_id}/process", response_model=Status)
def process(who: Caller, request_id: str, request: Request) -> Status:
    """Run the request's steps now (resumable; waits for recipients)."""
    services = state(request).services
    _staff_only(who)
    _load(services, who, request_id)
    services.requests.process(request_id)
    return _status(services, request_id)


@router.get("/{request_id}/report", response_model=dict[str, Any])
def report(who: Caller, request_id: str, request: Request) -> dict[str, Any]:
    """The access or portability report: the person's data (audited as released)."""
    services = state(request).services
    view = _load(services, who, request_id)
    data = services.requests.report(request_id).as_dict()
    services.audit.append_now(
        AuditEvent(
            actor=who.actor.label,
            action="api.request_report",
            outcome="allowed",
            subject=view.subject_id,
            detail={"request": request_id},
        )
    )
    return data


def _staff_only(who: Principal) -> None:
    if who.actor.kind == "subject":
        raise AccessDenied("only staff decide on requests")
