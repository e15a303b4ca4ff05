"""Who is signed in to the web UI, CSRF checks, and turning errors into pages.

Sessions are the identity module's (:mod:`integritet.identity`): the same HttpOnly,
SameSite=Strict ``integritet_session`` cookie the API reads, set by
:func:`integritet.api.routes.signin.set_session_cookies`. Every form of a signed-in page
carries the session's CSRF token (:func:`integritet.api.auth.csrf_token`); the sign-in
forms, before there is a session, use a double-submit token in a short-lived cookie.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from integritet.access import Actor
from integritet.api.app import state
from integritet.api.auth import SESSION_COOKIE, UNSAFE, csrf_token
from integritet.errors import (
    AccessDenied,
    IntegritetError,
    NotFound,
    NotSignedIn,
    RateLimited,
)

FORM_COOKIE = "integritet_form"


@dataclass(frozen=True)
class WebUser:
    """The signed-in person: the access-control actor, the session and its CSRF token."""

    actor: Actor
    session_id: str
    csrf: str


async def _form_value(request: Request, name: str) -> str | None:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else None


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def signed_in(request: Request) -> WebUser:
    """The session's user (CSRF checked on unsafe methods), or :class:`NotSignedIn`."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = state(request).services.identity.session(cookie) if cookie else None
    if cookie is None or session is None:
        raise NotSignedIn("sign in to see this page")
    user = WebUser(session.actor, session.session_id, csrf_token(cookie))
    request.state.web_user = user
    if request.method in UNSAFE and not _same(await _form_value(request, "csrf_token"), user.csrf):
        raise AccessDenied("the form was not sent from this site (CSRF token missing or wrong)")
    return user


async def subject_user(request: Request) -> WebUser:
    user = await signed_in(request)
    if user.actor.kind != "subject":
        raise AccessDenied("the portal is for the people whose data we hold; staff use the console")
    return user


async def staff_user(request: Request) -> WebUser:
    user = await signed_in(request)
    if user.actor.kind not in ("staff", "customer"):
        raise AccessDenied("the console is for staff")
    return user


Subject = Annotated[WebUser, Depends(subject_user)]
Staff = Annotated[WebUser, Depends(staff_user)]


def issue_form_token(request: Request, response: Response) -> None:
    """Before sign-in: a random token in a cookie and (via ``request.state``) in the form."""
    token = getattr(request.state, "form_csrf", None) or secrets.token_urlsafe(24)
    request.state.form_csrf = token
    response.set_cookie(FORM_COOKIE, token, max_age=3600, httponly=True, samesite="strict")


def prepare_form_token(request: Request) -> None:
    request.state.form_csrf = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


async def check_form_token(request: Request) -> None:
    """The double-submit check of a sign-in form."""
    cookie = request.cookies.get(FORM_COOKIE)
    if cookie is None or not _same(await _form_value(request, "csrf_token"), cookie):
        raise AccessDenied("the form was not sent from this site (CSRF token missing or wrong)")


STATUS = {AccessDenied: 403, NotFound: 404, RateLimited: 429}


class WebRoute(APIRoute):
    """Routes whose errors are pages: sign-in redirects, 403/404/422 in the visitor's language."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except NotSignedIn:
                from integritet.web.render import redirect

                area = "/console" if request.url.path.startswith("/console") else "/portal"
                return redirect(f"{area}/sign-in", "signed_out")
            except IntegritetError as exc:
                return error_page(request, exc)

        return run


def error_page(request: Request, exc: IntegritetError) -> Response:
    from integritet.web.render import page

    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 422)
    if isinstance(exc, AccessDenied):
        _audit_denial(request, exc)
    return page(request, "error.html", status=status, status_code=status, detail=exc.message)


def _audit_denial(request: Request, exc: AccessDenied) -> None:
    """Refused pages are evidence too, like refused API calls."""
    user: WebUser | None = getattr(request.state, "web_user", None)
    if user is None:
        return
    from integritet.audit import AuditEvent

    route = request.scope.get("route")
    state(request).services.audit.append_now(
        AuditEvent(
            actor=user.actor.label,
            action="web.denied",
            outcome="denied",
            detail={
                "route": f"{request.method} {getattr(route, 'path', '?')}",
                "reason": exc.reason[:200],
            },
        )
    )
