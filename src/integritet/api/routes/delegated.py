"""OpenID Connect sign-in routes (V2); see :mod:`integritet.api.oidc` for the flow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from integritet.api.app import API_PREFIX, state
from integritet.api.auth import csrf_token
from integritet.api.oidc import FLOW_COOKIE, Flow, OIDCClient, username_of
from integritet.api.routes.signin import set_session_cookies
from integritet.api.schemas import SignedInOut
from integritet.errors import AccessDenied, NotFound

router = APIRouter(prefix="/auth/oidc", tags=["auth"])


def client(request: Request) -> OIDCClient:
    """The app's relying party (one per app, created on first use)."""
    app = state(request)
    provider = app.manifest.security.identity_provider
    if provider is None:
        raise NotFound("this service has no identity provider; sign in with a password")
    found: OIDCClient | None = getattr(request.app.state, "oidc", None)
    if found is None:
        redirect = f"{app.settings.base_url.rstrip('/')}{API_PREFIX}/auth/oidc/callback"
        found = OIDCClient(provider, redirect)
        request.app.state.oidc = found
    return found


@router.get("/login", response_class=RedirectResponse, status_code=302)
def oidc_login(request: Request) -> Response:
    """Go to the identity provider to sign in."""
    flow = Flow.new()
    response = RedirectResponse(client(request).authorize_url(flow), status_code=302)
    response.set_cookie(
        FLOW_COOKIE, flow.cookie(), max_age=600, httponly=True, samesite="lax", path=API_PREFIX
    )
    return response


@router.get("/callback", response_model=SignedInOut)
def oidc_callback(
    request: Request,
    code: Annotated[str, Query(max_length=2048)],
    state_: Annotated[str, Query(alias="state", max_length=256)],
) -> Response:
    """Back from the provider: check the ID token and start a session."""
    app = state(request)
    oidc = client(request)
    flow = Flow.parse(request.cookies.get(FLOW_COOKIE))
    if flow.state != state_:
        raise AccessDenied("the sign-in state does not match (start again)")
    claims = oidc.exchange(code, flow)
    username = username_of(claims)
    store = app.services.identity
    try:
        store.user(username)
    except NotFound:
        raise AccessDenied("this person has no account here; ask an admin to add them") from None
    token, session = store.start_session(username=username)
    body = SignedInOut(
        actor=session.actor.label,
        csrf_token=csrf_token(token),
        expires_at=session.expires_at,
        session_token=token,
    )
    response = JSONResponse(body.model_dump(mode="json"))
    set_session_cookies(request, response, token, session)
    response.delete_cookie(FLOW_COOKIE, path=API_PREFIX)
    return response
