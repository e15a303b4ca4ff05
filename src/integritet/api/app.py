"""The FastAPI application: ``create_app`` wires settings, manifest and clock into the routes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from integritet import __version__
from integritet.clock import Clock, SystemClock
from integritet.errors import AccessDenied, IntegritetError, NotFound
from integritet.manifest import Manifest
from integritet.settings import Settings

API_PREFIX = "/api/v1"


@dataclass
class AppState:
    """Everything a route needs, built once per app."""

    settings: Settings
    manifest: Manifest
    clock: Clock


def create_app(settings: Settings, manifest: Manifest, clock: Clock | None = None) -> FastAPI:
    """Build the app. Routes live in ``integritet.api.routes``, one module per area."""
    from integritet.api.routes import pages, policy, system

    app = FastAPI(
        title="integritet",
        version=__version__,
        description="Privacy policy as code: the policy, its enforcement and people's rights.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.integritet = AppState(settings, manifest, clock or SystemClock())
    app.include_router(system.router, prefix=API_PREFIX)
    app.include_router(policy.router, prefix=API_PREFIX)
    app.include_router(pages.router)
    _install_error_handlers(app)
    _install_security_headers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    def problem(status: int, exc: IntegritetError) -> JSONResponse:
        return JSONResponse(
            {"error": type(exc).__name__, "detail": exc.message}, status_code=status
        )

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return problem(404, exc)

    @app.exception_handler(AccessDenied)
    async def _denied(_request: Request, exc: AccessDenied) -> JSONResponse:
        return problem(403, exc)

    @app.exception_handler(IntegritetError)
    async def _domain(_request: Request, exc: IntegritetError) -> JSONResponse:
        return problem(422, exc)


def _install_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def _headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
        )
        return response


def state(request: Request) -> AppState:
    value: AppState = request.app.state.integritet
    return value
