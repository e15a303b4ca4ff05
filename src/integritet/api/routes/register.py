"""The record of processing activities (Art. 30), for staff and systems."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request

from integritet.api.app import state
from integritet.api.auth import Caller
from integritet.api.register import register as build_register
from integritet.errors import AccessDenied

router = APIRouter(tags=["register"])


@router.get("/register", response_model=dict[str, Any])
def processing_register(
    who: Caller, request: Request, lang: Literal["sv", "en"] = "en"
) -> dict[str, Any]:
    """The Art. 30 register generated from the manifest (staff and systems only)."""
    if who.actor.kind == "subject":
        raise AccessDenied("the register of processing is for staff; see the policy instead")
    return build_register(state(request).manifest, lang)
