"""One-click unsubscribe from the links in emails: no sign-in, the signed token is the proof.

``GET /unsubscribe/{token}`` shows a page with one button (a GET changes nothing, so link
scanners cannot unsubscribe anyone); ``POST /unsubscribe/{token}`` withdraws the consent —
what mail clients send for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058).
The routes exist at ``/unsubscribe/...`` (where the links point) and under ``/api/v1``.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from integritet.api.app import state
from integritet.api.auth import client_ip
from integritet.errors import ConsentError

router = APIRouter(tags=["unsubscribe"])
public = APIRouter(include_in_schema=False)

_PAGE = (
    '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>{title}</title>'
    '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
    "<body><main><h1>{title}</h1><p>{text}</p>{form}</main></body></html>"
)


def _page(title: str, text: str, form: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=escape(title), text=escape(text), form=form), status_code=status
    )


def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    """Confirm the unsubscription with one button."""
    app = state(request)
    try:
        target = app.services.links.parse(token)
        name = app.manifest.consent_purpose(target.purpose).name
    except (ConsentError, KeyError, LookupError):
        return _page(
            "Ogiltig länk / Invalid link", "Länken är inte giltig. / Invalid link.", status=404
        )
    form = (
        f'<form method="post" action="{escape(request.url.path)}">'
        '<button type="submit">Avregistrera / Unsubscribe</button></form>'
    )
    text = f"Avregistrera från: {name['sv']} ({target.channel}). / Unsubscribe from: {name['en']}."
    return _page("Avregistrering / Unsubscribe", text, form)


def unsubscribe(token: str, request: Request) -> Response:
    """Withdraw the consent the signed token names (idempotent)."""
    app = state(request)
    app.limiter.hit(f"unsubscribe:ip:{client_ip(request)}")
    try:
        purpose = app.services.links.unsubscribe(
            app.services.consent, token, app.manifest.policy.version
        )
    except ConsentError as exc:
        return JSONResponse({"error": "ConsentError", "detail": exc.message}, status_code=404)
    if "text/html" in request.headers.get("accept", ""):
        return _page("Avregistrerad / Unsubscribed", f"Klart / Done: {purpose}")
    return JSONResponse({"unsubscribed": purpose})


for _router in (router, public):
    _router.add_api_route(
        "/unsubscribe/{token}", unsubscribe_page, methods=["GET"], response_class=HTMLResponse
    )
    _router.add_api_route("/unsubscribe/{token}", unsubscribe, methods=["POST"])
