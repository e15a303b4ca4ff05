"""Retention: what is due (a dry run that changes nothing) and running it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder

from integritet import retention
from integritet.api.app import state
from integritet.api.auth import Caller, allow

router = APIRouter(prefix="/retention", tags=["retention"])


def _scope_all(request: Request, who: Caller) -> None:
    from integritet.access import check_action

    services = state(request).services
    allow(services, who, "run_retention")
    check_action(services.manifest, who.actor, "run_retention")


@router.get("/plan", response_model=dict[str, Any])
def plan(who: Caller, request: Request) -> dict[str, Any]:
    """What a run would delete, anonymise or warn about now (counts and ids only)."""
    _scope_all(request, who)
    app = state(request)
    report = retention.plan(app.manifest, app.services.vault, app.clock)
    data: dict[str, Any] = jsonable_encoder(report.to_dict())
    return data


@router.post("/run", response_model=dict[str, Any])
def run(who: Caller, request: Request) -> dict[str, Any]:
    """Apply every retention rule now (audited by the vault)."""
    _scope_all(request, who)
    app = state(request)
    report = retention.run(app.manifest, app.services.vault, app.clock, mailer=app.services.mailer)
    data: dict[str, Any] = jsonable_encoder(report.to_dict())
    return data
