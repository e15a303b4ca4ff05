"""Rendering pages: one Jinja2 environment, the shared page context, the language cookie."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from integritet.api.app import state
from integritet.pii import ENTITY_TYPES
from integritet.web.i18n import (
    LANG_COOKIE,
    duration_words,
    format_date,
    format_datetime,
    lang_of,
    pick,
    requested_lang,
    translate,
)

YEAR = 365 * 24 * 3600


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("integritet.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def switch_url(request: Request, lang: str) -> str:
    """The current page in the other language (query kept, ``lang`` replaced)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "msg")]
    params.append(("lang", lang))
    return f"{request.url.path}?{urlencode(params)}"


def context(request: Request, **extra: Any) -> dict[str, Any]:
    """What every template sees: words, language, controller, the signed-in user's CSRF."""
    lang = lang_of(request)
    manifest = state(request).manifest

    def t(key: str, **params: Any) -> str:
        return translate(lang, key, **params)

    user = getattr(request.state, "web_user", None)
    message = request.query_params.get("msg")
    return {
        "request": request,
        "lang": lang,
        "other_lang": "en" if lang == "sv" else "sv",
        "switch_url": switch_url(request, "en" if lang == "sv" else "sv"),
        "t": t,
        "tx": lambda text: pick(text, lang),
        "date": lambda value: format_date(value, lang),
        "datetime": lambda value: format_datetime(value, lang),
        "duration": lambda d: duration_words(d.amount, d.unit, lang),
        "controller": manifest.controller,
        "manifest": manifest,
        "user": user,
        "csrf": user.csrf if user is not None else getattr(request.state, "form_csrf", ""),
        "flash": t(f"msg.{message}") if message and f"msg.{message}" in _known() else None,
        "pii_names": json.dumps({e: t(f"pii.{e}") for e in ENTITY_TYPES}, ensure_ascii=False),
        **extra,
    }


def _known() -> frozenset[str]:
    from integritet.web.messages import MESSAGES

    return frozenset(MESSAGES)


def page(request: Request, template: str, *, status: int = 200, **extra: Any) -> HTMLResponse:
    """Render ``template`` with the page context; remember an explicitly chosen language."""
    html = environment().get_template(template).render(context(request, **extra))
    response = HTMLResponse(html, status_code=status)
    remember_lang(request, response)
    return response


def remember_lang(request: Request, response: HTMLResponse | RedirectResponse) -> None:
    asked = requested_lang(request)
    if asked is not None:
        response.set_cookie(LANG_COOKIE, asked, max_age=YEAR, samesite="lax", httponly=True)


def redirect(path: str, msg: str | None = None, **params: str) -> RedirectResponse:
    """A 303 to ``path`` (after a form post), optionally with a message key to show."""
    query = dict(params)
    if msg is not None:
        query["msg"] = msg
    target = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(target, status_code=303)
