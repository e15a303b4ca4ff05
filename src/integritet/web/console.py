"""The staff console ``/console``: sign-in with password and TOTP, the request queue with
deadlines, and each request's detail with its decisions.

Sign-in is :meth:`integritet.identity.Login.password` (the TOTP code is required when
the user's role needs MFA); the session is the API's. Every form carries the session's
CSRF token. Which requests a user sees follows the API: a role that can
``manage_requests`` whose scope reaches the request's subject (tenant).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from integritet.access import check_action
from integritet.api.app import state
from integritet.api.auth import CSRF_COOKIE, SESSION_COOKIE, Principal, allow, client_ip
from integritet.api.routes.signin import set_session_cookies
from integritet.errors import AccessDenied, IntegritetError, KeyDestroyed, NotFound
from integritet.requests import RequestView
from integritet.services import Services
from integritet.web.i18n import lang_of, translate
from integritet.web.render import page, redirect
from integritet.web.session import (
    Staff,
    WebRoute,
    WebUser,
    check_form_token,
    issue_form_token,
    prepare_form_token,
)
from integritet.web.textcheck import pii_found

router = APIRouter(prefix="/console", route_class=WebRoute, include_in_schema=False)


def principal(user: WebUser) -> Principal:
    return Principal(user.actor, "cookie", session_id=user.session_id)


def can(services: Services, user: WebUser, action: str) -> bool:
    try:
        allow(services, principal(user), action)
    except AccessDenied:
        return False
    return True


def reach(services: Services, user: WebUser, subject: str | None) -> None:
    """May this user act on requests about ``subject``? (role, then scope and tenant)"""
    allow(services, principal(user), "manage_requests")
    if subject is None:
        roles = {r.id: r for r in services.manifest.roles}
        if not any(roles[r].scope.value == "all" for r in user.actor.roles if r in roles):
            raise AccessDenied(f"{user.actor.label} reaches only requests about known subjects")
        return
    try:
        customer = services.vault.subject_customer(subject)
    except KeyDestroyed:  # an erased person: the request stays, the tenant link is gone
        customer = None
    check_action(services.manifest, user.actor, "manage_requests", subject_customer=customer)


def visible(services: Services, user: WebUser, view: RequestView) -> bool:
    try:
        reach(services, user, view.subject_id)
    except (AccessDenied, NotFound):
        return False
    return True


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    prepare_form_token(request)
    response = page(
        request, "console/sign_in.html", title=translate(lang_of(request), "csignin.title")
    )
    issue_form_token(request, response)
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    await check_form_token(request)
    app = state(request)
    app.limiter.hit(f"login:ip:{client_ip(request)}", f"login:user:{username}")
    try:
        token, session = app.services.login.password(username, password, code.strip() or None)
    except AccessDenied:
        prepare_form_token(request)
        lang = lang_of(request)
        return page(
            request,
            "console/sign_in.html",
            status=401,
            title=translate(lang, "csignin.title"),
            error=translate(lang, "csignin.failed"),
            username=username,
        )
    response = redirect("/console", "signed_in")
    set_session_cookies(request, response, token, session)
    return response


@router.post("/sign-out")
def sign_out(user: Staff, request: Request) -> Response:
    state(request).services.identity.end_session(user.session_id)
    response = redirect("/console/sign-in", "signed_out")
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("")
def queue(
    user: Staff, request: Request, show: Annotated[str, "open|all|overdue"] = "open"
) -> Response:
    """The request queue, earliest deadline first, with days left and overdue marked."""
    app = state(request)
    services = app.services
    allow(services, principal(user), "manage_requests")
    now = app.clock.now()
    views = [v for v in services.requests.list_requests() if visible(services, user, v)]
    if show == "open":
        views = [v for v in views if v.status.value not in ("completed", "rejected")]
    elif show == "overdue":
        views = [v for v in views if v.overdue(now)]
    views.sort(key=lambda v: v.deadline)
    rows = [{"view": v, "days": (v.deadline - now).days, "overdue": v.overdue(now)} for v in views]
    lang = lang_of(request)
    return page(
        request, "console/queue.html", title=translate(lang, "queue.title"), rows=rows, show=show
    )


def detail_page(
    request: Request, user: WebUser, request_id: str, *, status: int = 200, **extra: Any
) -> Response:
    app = state(request)
    services = app.services
    view = services.requests.get(request_id)
    reach(services, user, view.subject_id)
    data = services.requests.show(request_id)
    receipt = None
    if view.kind.value == "erasure" and view.status.value == "completed":
        try:
            receipt = services.requests.receipt(request_id)
        except NotFound:
            receipt = None
    restricted = None
    if view.kind.value == "restriction" and view.subject_id is not None:
        try:
            restricted = services.vault.is_restricted(view.subject_id)
        except KeyDestroyed:
            restricted = None
    now = app.clock.now()
    lang = lang_of(request)
    return page(
        request,
        "console/request.html",
        status=status,
        title=f"{translate(lang, 'kind.' + view.kind.value)} {view.id[:8]}",
        view=view,
        data=data,
        days=(view.deadline - now).days,
        overdue=view.overdue(now),
        receipt=receipt,
        receipt_json=json.dumps(receipt["body"], indent=2, ensure_ascii=False) if receipt else "",
        exceptions=[e.value for e in services.manifest.rights.erasure_exceptions],
        restricted=restricted,
        **extra,
    )


@router.get("/requests/{request_id}")
def request_detail(user: Staff, request_id: str, request: Request) -> Response:
    return detail_page(request, user, request_id)


FREE_TEXT = ("note", "reason")


@router.post("/requests/{request_id}/{action}")
async def act(user: Staff, request_id: str, action: str, request: Request) -> Response:
    """verify, send-code, approve, extend, reject, process, recipient, lift: one decision."""
    services = state(request).services
    view = services.requests.get(request_id)
    reach(services, user, view.subject_id)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    warnings = {
        name: found
        for name in FREE_TEXT
        if (found := pii_found(values.get(name, ""))) and not values.get(f"{name}_ack")
    }
    if warnings:
        return detail_page(request, user, request_id, status=422, warnings=warnings, values=values)
    try:
        msg = _decide(services, user, request_id, action, values)
    except IntegritetError as exc:
        return detail_page(request, user, request_id, status=422, error=exc.message, values=values)
    return redirect(f"/console/requests/{request_id}", msg)


def _decide(
    services: Services, user: WebUser, request_id: str, action: str, values: dict[str, str]
) -> str:
    staff = user.actor.id
    engine = services.requests
    note, reason = values.get("note", ""), values.get("reason", "")
    if action == "verify":
        engine.verify(request_id, staff, note)
    elif action == "send-code":
        engine.send_code(request_id)
    elif action == "approve":
        engine.approve(request_id, staff)
    elif action == "extend":
        engine.extend(request_id, staff, reason)
    elif action == "reject":
        engine.reject(request_id, staff, reason, values.get("exception") or None)
    elif action == "process":
        engine.process(request_id)
    elif action == "lift":
        engine.lift_restriction(request_id, staff)
    elif action == "recipient":
        engine.confirm_recipient(
            request_id,
            values.get("recipient", ""),
            staff,
            note or None,
            waive=values.get("waive") == "yes",
        )
    else:
        raise NotFound(f"no action {action!r}")
    return f"done_{action.replace('-', '_')}"
