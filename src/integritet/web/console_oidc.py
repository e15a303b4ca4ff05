"""Console sign-in through the company's OpenID Connect provider (V2).

When the manifest declares ``security.identity_provider``, the console's sign-in page
offers "Sign in with <provider>" and, with ``passwords: false``, no password form. The
flow is the API's (:mod:`integritet.api.oidc`: authorization code + PKCE, ID token checked
against the provider's keys, issuer, audience and nonce), with the console's own redirect
URI ``<base_url>/console/oidc/callback`` so the browser lands back in the console with a
session cookie instead of the API's JSON answer. Register that URI at the provider next to
the API's ``/api/v1/auth/oidc/callback``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from integritet.api.app import state
from integritet.api.oidc import Flow, OIDCClient, username_of
from integritet.api.routes.signin import set_session_cookies
from integritet.errors import AccessDenied, NotFound
from integritet.web.i18n import lang_of, translate
from integritet.web.render import page, redirect
from integritet.web.session import WebRoute, issue_form_token, prepare_form_token

router = APIRouter(prefix="/console/oidc", route_class=WebRoute, include_in_schema=False)
FLOW_COOKIE = "integritet_console_oidc"
CALLBACK = "/console/oidc/callback"


def client(request: Request) -> OIDCClient:
    """The console's relying party (one per app, created on first use)."""
    app = state(request)
    provider = app.manifest.security.identity_provider
    if provider is None:
        raise NotFound("this service has no identity provider; sign in with a password")
    found: OIDCClient | None = getattr(request.app.state, "web_oidc", None)
    if found is None:
        found = OIDCClient(provider, app.settings.base_url.rstrip("/") + CALLBACK)
        request.app.state.web_oidc = found
    return found


@router.get("/login")
def login(request: Request) -> Response:
    """Go to the identity provider; the flow's secrets wait in a short-lived cookie."""
    flow = Flow.new()
    response = RedirectResponse(client(request).authorize_url(flow), status_code=302)
    response.set_cookie(
        FLOW_COOKIE,
        flow.cookie(),
        max_age=600,
        httponly=True,
        samesite="lax",
        path="/console/oidc",
    )
    return response


@router.get("/callback")
def callback(
    request: Request,
    code: Annotated[str, Query(max_length=2048)],
    state_: Annotated[str, Query(alias="state", max_length=256)],
) -> Response:
    """Back from the provider: check the ID token, start a session, open the console."""
    app = state(request)
    try:
        flow = Flow.parse(request.cookies.get(FLOW_COOKIE))
        if flow.state != state_:
            raise AccessDenied("the sign-in state does not match (start again)")
        username = username_of(client(request).exchange(code, flow))
        store = app.services.identity
        try:
            store.user(username)
        except NotFound:
            raise AccessDenied("this person has no account here") from None
        token, session = store.start_session(username=username)
    except AccessDenied:
        prepare_form_token(request)
        lang = lang_of(request)
        failed = page(
            request,
            "console/sign_in.html",
            status=401,
            title=translate(lang, "csignin.title"),
            error=translate(lang, "csignin.failed"),
        )
        failed.delete_cookie(FLOW_COOKIE, path="/console/oidc")
        issue_form_token(request, failed)
        return failed
    response = redirect("/console", "signed_in")
    set_session_cookies(request, response, token, session)
    response.delete_cookie(FLOW_COOKIE, path="/console/oidc")
    return response
