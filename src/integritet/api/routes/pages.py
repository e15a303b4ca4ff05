"""The landing page of a running server: where to go next."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from integritet.api.app import API_PREFIX, state

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    m = state(request).manifest
    name = escape(m.controller.name)
    links = [
        ("/portal", "Mina uppgifter / My data (portal)"),
        ("/console", "Dataskyddskonsol / Data protection console (staff)"),
        (f"{API_PREFIX}/policy?lang=sv", "Integritetspolicy (svenska)"),
        (f"{API_PREFIX}/policy?lang=en", "Privacy policy (English)"),
        (f"{API_PREFIX}/docs", "REST API (OpenAPI)"),
    ]
    items = "".join(f'<li><a href="{href}">{escape(text)}</a></li>' for href, text in links)
    body = (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        f"<title>{name} - integritet</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;"
        "padding:0 1rem;color:#1a1a1a;line-height:1.5}a{color:#0b5394}</style></head>"
        f"<body><main><h1>{name}</h1><p>Policy version {escape(m.policy.version)}, "
        f"effective {m.policy.effective.isoformat()}.</p><ul>{items}</ul></main></body></html>"
    )
    return HTMLResponse(body)
