"""The published policy: rendered text per language and format, and its version."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel

from integritet.api.app import state
from integritet.errors import NotFound

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


class PublishedVersion(BaseModel):
    version: str
    published_at: datetime
    effective: str
    material: bool


@router.get("/policy/versions", response_model=list[PublishedVersion])
def published_versions(request: Request) -> list[PublishedVersion]:
    """Every published version of the policy, oldest first (L12, V5)."""
    versions = state(request).services.publisher.versions()
    return [
        PublishedVersion(
            version=v.version,
            published_at=v.published_at,
            effective=v.effective,
            material=v.material,
        )
        for v in versions
    ]


@router.get("/policy/versions/{version}", response_class=HTMLResponse)
def published_text(
    version: str, request: Request, lang: Literal["sv", "en"] = Query("sv")
) -> HTMLResponse:
    """The policy text exactly as published in ``version``."""
    for v in state(request).services.publisher.versions():
        if v.version == version:
            return HTMLResponse(v.html_sv if lang == "sv" else v.html_en)
    raise NotFound("no published policy version with this name")
