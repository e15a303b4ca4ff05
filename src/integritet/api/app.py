"""The FastAPI application: ``create_app`` wires settings, manifest and clock into the routes.

The engines (:class:`integritet.services.Services`) are opened on first use and closed on
shutdown (the app's lifespan); tests and the demo may pass their own. Every domain error
becomes a problem response: NotSignedIn 401, AccessDenied 403 (audited), NotFound 404,
DuplicateSubject 409, RateLimited 429, any other IntegritetError 422.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from integritet import __version__
from integritet.api.ratelimit import RateLimiter
from integritet.clock import Clock, SystemClock
from integritet.errors import (
    AccessDenied,
    DuplicateSubject,
    IntegritetError,
    NotFound,
    NotSignedIn,
    RateLimited,
)
from integritet.manifest import Manifest
from integritet.settings import Settings

if TYPE_CHECKING:
    from integritet.services import Services

API_PREFIX = "/api/v1"
PUBLIC_CACHEABLE = (f"{API_PREFIX}/policy", f"{API_PREFIX}/health", f"{API_PREFIX}/openapi.json")


@dataclass
class AppState:
    """Everything a route needs, built once per app."""

    settings: Settings
    manifest: Manifest
    clock: Clock
    limiter: RateLimiter = field(default_factory=RateLimiter)
    mailer: object = None
    _services: Services | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def services(self) -> Services:
        """The engines, opened on first use (the database is created in a fresh home)."""
        if self._services is None:
            with self._lock:
                if self._services is None:
                    from integritet.services import Services

                    self._services = Services.open(
                        self.settings, self.manifest, self.clock, mailer=self.mailer
                    )
        return self._services

    def close(self) -> None:
        with self._lock:
            if self._services is not None:
                self._services.close()
                self._services = None


def create_app(
    settings: Settings,
    manifest: Manifest,
    clock: Clock | None = None,
    *,
    services: Services | None = None,
    mailer: object = None,
    limiter: RateLimiter | None = None,
) -> FastAPI:
    """Build the app. Routes live in ``integritet.api.routes``, one module per area."""
    from integritet.api.routes import ROUTERS, pages, unsubscribe

    app_state = AppState(
        settings, manifest, clock or SystemClock(), limiter or RateLimiter(), mailer, services
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if services is None:  # ours to close; a caller's Services is the caller's
            app_state.close()

    app = FastAPI(
        title="integritet",
        version=__version__,
        description="Privacy policy as code: the policy, its enforcement and people's rights.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.integritet = app_state
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(unsubscribe.public)  # the links in emails: /unsubscribe/{token}
    app.include_router(pages.router)
    from integritet.web import router as web_router  # the web UI: /portal, /console

    app.include_router(web_router)
    _install_error_handlers(app)
    from integritet.api.fastpath import MayContactFastPath

    app.add_middleware(MayContactFastPath, app_state=app_state)  # inside the headers
    _install_security_headers(app)
    return app


def _audit_denial(request: Request, exc: AccessDenied) -> None:
    """Refusals at the API level are evidence too (the vault records its own)."""
    principal = getattr(request.state, "principal", None)
    if principal is None or getattr(request.state, "denial_audited", False):
        return
    from integritet.audit import AuditEvent

    route = request.scope.get("route")
    path = getattr(route, "path", "?")
    app_state: AppState = request.app.state.integritet
    app_state.services.audit.append_now(
        AuditEvent(
            actor=principal.actor.label,
            action="api.denied",
            outcome="denied",
            detail={"route": f"{request.method} {path}", "reason": exc.reason[:200]},
        )
    )


def _install_error_handlers(app: FastAPI) -> None:
    def problem(status: int, exc: IntegritetError, **headers: str) -> JSONResponse:
        return JSONResponse(
            {"error": type(exc).__name__, "detail": exc.message},
            status_code=status,
            headers=headers or None,
        )

    @app.exception_handler(NotSignedIn)
    async def _anonymous(_request: Request, exc: NotSignedIn) -> JSONResponse:
        return problem(401, exc, **{"WWW-Authenticate": "Bearer"})

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return problem(404, exc)

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> JSONResponse:
        _audit_denial(request, exc)
        return problem(403, exc)

    @app.exception_handler(DuplicateSubject)
    async def _duplicate(_request: Request, exc: DuplicateSubject) -> JSONResponse:
        return problem(409, exc)

    @app.exception_handler(RateLimited)
    async def _limited(_request: Request, exc: RateLimited) -> JSONResponse:
        return problem(429, exc, **{"Retry-After": str(exc.retry_after)})

    @app.exception_handler(IntegritetError)
    async def _domain(_request: Request, exc: IntegritetError) -> JSONResponse:
        return problem(422, exc)


_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    ),
)


class SecurityHeaders:
    """Security headers on every response, and ``Cache-Control: no-store`` on everything
    but the public policy, health and OpenAPI document (personal data is never cached).

    A plain ASGI middleware: it only edits the response's start message, so it costs a few
    microseconds (``BaseHTTPMiddleware`` ran each request through an extra task and
    stream)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        no_store = not path.startswith(PUBLIC_CACHEABLE) and path != "/"
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if no_store:
                    headers["Cache-Control"] = "no-store"
                if https:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _install_security_headers(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)


def state(request: Request) -> AppState:
    value: AppState = request.app.state.integritet
    return value
