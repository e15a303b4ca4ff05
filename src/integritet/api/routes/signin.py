"""Signing in and out: password + TOTP, one-time links for data subjects, who am I.

OpenID Connect sign-in lives in :mod:`integritet.api.routes.oidc`.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from integritet.access import Actor
from integritet.api.app import state
from integritet.api.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Caller,
    client_ip,
    csrf_token,
)
from integritet.api.schemas import Accepted, LoginIn, Me, SignedInOut, SubjectLinkIn
from integritet.identity import SignedIn

router = APIRouter(prefix="/auth", tags=["auth"])

LINK_MAIL = {
    "subject": "Din inloggningslänk / Your sign-in link",
    "text": (
        "Hej!\n\nHär är din länk för att se och hantera dina uppgifter hos {controller}. "
        "Den gäller i 15 minuter och kan användas en gång:\n{url}\n\n"
        "Hello,\n\nhere is your link to see and manage your data at {controller}. "
        "It is valid for 15 minutes and works once:\n{url}\n\n"
        "Bad du inte om länken kan du bortse från mejlet. / "
        "If you did not ask for it, ignore this email.\n"
    ),
}


def set_session_cookies(request: Request, response: Response, token: str, session: SignedIn) -> str:
    """Set the HttpOnly session cookie and the readable CSRF cookie; return the CSRF token."""
    secure = state(request).settings.base_url.startswith("https") or request.url.scheme == "https"
    csrf = csrf_token(token)
    max_age = max(1, int((session.expires_at - state(request).clock.now()).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, secure=secure, samesite="strict", max_age=max_age
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, httponly=False, secure=secure, samesite="strict", max_age=max_age
    )
    return csrf


@router.post("/login", response_model=SignedInOut)
def login(body: LoginIn, request: Request, response: Response) -> SignedInOut:
    """Sign in with user name, password and (when the role needs MFA) a TOTP code."""
    app = state(request)
    app.limiter.hit(f"login:ip:{client_ip(request)}", f"login:user:{body.username}")
    token, session = app.services.login.password(body.username, body.password, body.code)
    csrf = set_session_cookies(request, response, token, session)
    return SignedInOut(
        actor=session.actor.label,
        csrf_token=csrf,
        expires_at=session.expires_at,
        session_token=token,
    )


@router.post("/logout", status_code=204)
def logout(who: Caller, request: Request) -> Response:
    """End this session now, server-side (V7). API tokens are revoked with the CLI."""
    if who.session_id is not None:
        state(request).services.identity.end_session(who.session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("/me", response_model=Me)
def me(who: Caller) -> Me:
    """Who the caller is: actor, roles, customer, token scopes."""
    actor = who.actor
    return Me(
        actor=actor.label,
        kind=actor.kind,
        roles=list(actor.roles),
        customer=actor.customer,
        scopes=sorted(who.scopes) if who.scopes is not None else None,
    )


@router.post("/subject-link", response_model=Accepted, status_code=202)
def request_subject_link(body: SubjectLinkIn, request: Request) -> Accepted:
    """Email a one-time sign-in link to a data subject; the same answer whether known or not."""
    app = state(request)
    app.limiter.hit(f"link:ip:{client_ip(request)}", f"link:addr:{body.email.strip().lower()}")
    services = app.services
    system = Actor.system("auth")
    subject = None
    if "@" in body.email:
        subject = services.vault.find_subject(
            system, services.manifest.purposes[0].id, "email", body.email
        )
    if subject is not None and services.mailer is not None:
        customer = services.vault.subject_customer(subject)
        token = services.identity.create_subject_link(subject, customer)
        url = f"{app.settings.base_url.rstrip('/')}/api/v1/auth/subject-link/{token}"
        text = LINK_MAIL["text"].format(controller=services.manifest.controller.name, url=url)
        services.mailer.send(body.email, LINK_MAIL["subject"], text)
    return Accepted(detail="if the address is known, a sign-in link is on its way")


@router.get("/subject-link/{token}", response_class=HTMLResponse)
def subject_link_page(token: str, request: Request) -> HTMLResponse:
    """The page the emailed link opens: a button that signs in (GET never uses the link up,
    so mail scanners that prefetch links cannot spend it)."""
    name = escape(state(request).manifest.controller.name)
    body = (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        f"<title>{name}</title></head><body><main><h1>{name}</h1>"
        f'<form method="post" action="{escape(request.url.path)}">'
        '<button type="submit">Logga in / Sign in</button></form></main></body></html>'
    )
    return HTMLResponse(body)


@router.post("/subject-link/{token}", response_model=SignedInOut)
def redeem_subject_link(token: str, request: Request, response: Response) -> SignedInOut:
    """Use a one-time link: a data-subject session (single use, 15 minutes)."""
    app = state(request)
    app.limiter.hit(f"redeem:ip:{client_ip(request)}")
    value, session = app.services.identity.redeem_subject_link(token)
    csrf = set_session_cookies(request, response, value, session)
    return SignedInOut(
        actor=session.actor.label,
        csrf_token=csrf,
        expires_at=session.expires_at,
        session_token=value,
    )
