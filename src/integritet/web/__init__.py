"""The web UI: the self-service portal (``/portal``) and the staff console (``/console``).

Server-rendered Jinja2 pages in Swedish and English over the same engines and sessions
as the REST API (:mod:`integritet.services`, :mod:`integritet.identity`). Plain forms
work without JavaScript; ``/static/pii.js`` adds the warn-while-typing check of
free-text fields (L2). ``create_app`` mounts :data:`router`.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from integritet.errors import NotFound
from integritet.web.console import router as console_router
from integritet.web.console_audit import router as audit_router
from integritet.web.console_more import router as more_router
from integritet.web.console_oidc import router as oidc_router
from integritet.web.portal import router as portal_router
from integritet.web.preferences import router as preferences_router
from integritet.web.session import WebRoute

STATIC = files("integritet.web") / "static"
MEDIA = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

router = APIRouter(include_in_schema=False, route_class=WebRoute)


@router.get("/static/{name}")
def static(name: str, request: Request) -> Response:
    """The UI's own CSS and JavaScript (no CDN, no build step)."""
    known = {p.name: p for p in STATIC.iterdir() if p.is_file()}
    if name not in known:
        raise NotFound("no such file")
    suffix = "." + name.rsplit(".", 1)[-1]
    return FileResponse(str(known[name]), media_type=MEDIA.get(suffix, "application/octet-stream"))


router.include_router(portal_router)
router.include_router(preferences_router)
router.include_router(console_router)
router.include_router(more_router)
router.include_router(audit_router)
router.include_router(oidc_router)

__all__ = ["router"]
