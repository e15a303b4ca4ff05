"""The published policy: rendered text per language and format, and its version."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel

from integritet.api.app import state

router = APIRouter(tags=["policy"])


class PolicyVersion(BaseModel):
    controller: str
    version: str
    effective: date


@router.get("/policy/version", response_model=PolicyVersion)
def policy_version(request: Request) -> PolicyVersion:
    """The policy version in force."""
    m = state(request).manifest
    return PolicyVersion(
        controller=m.controller.name, version=m.policy.version, effective=m.policy.effective
    )


@router.get(
    "/policy",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "text/markdown": {}}}},
)
def policy_text(
    request: Request,
    lang: Literal["sv", "en"] = Query("sv"),
    format: Literal["html", "md"] = Query("html"),
) -> Response:
    """The privacy policy rendered from the manifest, in Swedish or English."""
    from integritet.manifest.render import render

    text = render(state(request).manifest, lang, format)
    if format == "html":
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
