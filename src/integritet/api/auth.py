"""Who is calling, and may they: FastAPI dependencies for authentication and authorisation.

A call is authenticated by

- ``Authorization: Bearer itk_...``: an API token for a system (scoped to actions,
  revocable), acting as ``system:token:<name>`` or as the user who owns it;
- ``Authorization: Bearer <session token>`` or the ``integritet_session`` cookie: a
  session from password/TOTP sign-in, OpenID Connect or a subject's one-time link.

Cookie-authenticated unsafe calls (POST, PUT, PATCH, DELETE) must also send the CSRF
token (header ``X-CSRF-Token`` or form field ``csrf_token``) that sign-in returned and set
in the ``integritet_csrf`` cookie; the session cookie itself is HttpOnly and
SameSite=Strict. Bearer calls need no CSRF token (browsers never add them on their own).

Authorisation has two layers: the route names the action it needs (:func:`allow`: the
token's scopes, a role that ``can`` it, a subject's own actions), and the vault or
:func:`check_subject` checks purpose, category and the relationship to the subject (scope
all / own_customer / assigned / self) against the manifest.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from integritet.access import SUBJECT_ACTIONS, Actor, check
from integritet.api.app import state
from integritet.errors import AccessDenied, NotSignedIn
from integritet.services import Services

SESSION_COOKIE = "integritet_session"
CSRF_COOKIE = "integritet_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    actor: Actor
    via: str  # token | session | cookie
    scopes: frozenset[str] | None = None  # None: not a token (the roles decide)
    session_id: str | None = None
    token_name: str | None = None


def csrf_token(session_token: str) -> str:
    """The CSRF token bound to a session token (derived: nothing more to store)."""
    return hashlib.sha256(b"integritet-csrf|" + session_token.encode()).hexdigest()[:40]


def bearer_value(header: str) -> str | None:
    """The credential in an ``Authorization: Bearer ...`` header value, or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _bearer(request: Request) -> str | None:
    return bearer_value(request.headers.get("authorization", ""))


async def _csrf_ok(request: Request, session_token: str) -> bool:
    expected = csrf_token(session_token)
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def principal(request: Request) -> Principal:
    """The authenticated caller, or 401."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is not None:
        return found
    services = state(request).services
    bearer = _bearer(request)
    if bearer is not None:
        found = bearer_principal(services, bearer)
    elif (cookie := request.cookies.get(SESSION_COOKIE)) is not None:
        session = services.identity.session(cookie)
        if session is not None:
            if request.method in UNSAFE and not await _csrf_ok(request, cookie):
                raise AccessDenied("missing or wrong CSRF token for a cookie-authenticated call")
            found = Principal(session.actor, "cookie", session_id=session.session_id)
    if found is None:
        raise NotSignedIn("sign in, or send an API token (Authorization: Bearer ...)")
    request.state.principal = found
    return found


def bearer_principal(services: Services, value: str) -> Principal | None:
    """The token (``itk_...``) or session a bearer credential names, or None."""
    if value.startswith("itk_"):
        token = services.identity.token(value)
        if token is None:
            return None
        return Principal(token.actor, "token", scopes=token.scopes, token_name=token.name)
    session = services.identity.session(value)
    if session is None:
        return None
    return Principal(session.actor, "session", session_id=session.session_id)


Caller = Annotated[Principal, Depends(principal)]


def allow(services: Services, who: Principal, action: str) -> None:
    """The route-level check: may this caller use ``action`` at all?"""
    if who.scopes is not None and action not in who.scopes:
        raise AccessDenied(f"token {who.token_name!r} has no scope {action!r}")
    actor = who.actor
    if actor.kind == "system":
        return
    if actor.kind == "subject":
        if action not in SUBJECT_ACTIONS:
            raise AccessDenied(f"a data subject may not {action}")
        return
    roles = {r.id: r for r in services.manifest.roles}
    if not any(action in roles[r].can for r in actor.roles if r in roles):
        raise AccessDenied(f"{actor.label} has no role that can {action}")


def check_subject(
    services: Services, who: Principal, subject_id: str, purpose: str, action: str
) -> None:
    """Purpose, role and relationship to one subject, for operations outside the vault.
    A refusal by purpose or relationship is audited (``api.<action>``, denied)."""
    allow(services, who, action)
    customer = services.subject_customer(subject_id)  # NotFound for unknown ids
    try:
        check(
            services.manifest,
            who.actor,
            purpose,
            None,
            action,
            subject_customer=customer,
            subject=subject_id,
        )
    except AccessDenied as exc:
        from integritet.audit import AuditEvent

        services.audit.append_now(
            AuditEvent(
                actor=who.actor.label,
                action=f"api.{action}",
                outcome="denied",
                purpose=purpose if purpose in {p.id for p in services.manifest.purposes} else None,
                subject=subject_id,
                customer=customer,
                detail={"reason": exc.reason[:200]},
            )
        )
        raise


async def purpose_param(
    request: Request,
    purpose: Annotated[
        str | None, Query(description="The purpose of this access (a manifest purpose id).")
    ] = None,
    x_purpose: Annotated[str | None, Header(alias="X-Purpose")] = None,
) -> str:
    """The declared purpose of a data access: query ``purpose`` or header ``X-Purpose``.

    ``async``: no I/O, so FastAPI calls it in the event loop, not in a worker thread."""
    value = purpose or x_purpose
    manifest = state(request).manifest
    if value and any(p.id == value for p in manifest.purposes):
        return value
    declared = [p.id for p in manifest.purposes]
    if not value:
        raise AccessDenied(f"say the purpose (query 'purpose' or header X-Purpose): {declared}")
    if value not in declared:
        raise AccessDenied("this purpose is not declared in the manifest")
    return value


Purpose = Annotated[str, Depends(purpose_param)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
