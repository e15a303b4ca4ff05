"""API routes, one module per area. ``ROUTERS`` are mounted under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from integritet.api.routes import (
    audit,
    callbacks,
    consents,
    delegated,
    pii,
    policy,
    register,
    requests,
    retention,
    signin,
    subjects,
    system,
    telemetry,
    unsubscribe,
)

ROUTERS: list[APIRouter] = [
    system.router,
    policy.router,
    signin.router,
    delegated.router,
    subjects.router,
    consents.router,
    unsubscribe.router,
    requests.router,
    callbacks.router,
    retention.router,
    audit.router,
    pii.router,
    register.router,
    telemetry.router,
]
