"""``GET /api/v1/may-contact`` without the framework's per-request machinery, same checks.

A sending system calls ``may-contact`` once per message, so most of its cost was FastAPI's
routing, dependency solving and response handling, not the decision. This ASGI middleware
answers the common case directly: an API token (``Bearer itk_...``), exactly one ``subject``,
``purpose`` and ``channel`` within their length limits, and remembered decisions (a
file-backed SQLite database). It runs exactly the checks the route runs, in the same
order and with the same functions: the token (:func:`~integritet.api.auth.bearer_principal`,
a read-only lookup), the consent purpose and channel, the route-level action ``read``
(token scope or role), the subject's customer, then purpose, role and relationship
(:func:`integritet.access.check`), then the decision.

Everything else goes to the route itself, which then answers: a missing or repeated
parameter (422 with the framework's validation detail), sessions (looking one up touches
it, a write), cookie sign-in, PostgreSQL (the route queries off the event loop), and
*every* refusal or error. The fast path has no side
effects before its answer, so when any check raises, the route repeats the checks and
answers with the error response and the audit event (``api.read`` denied) exactly once.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from integritet.access import check
from integritet.api.app import API_PREFIX, AppState
from integritet.errors import IntegritetError

PATH = f"{API_PREFIX}/may-contact"
LIMITS = {"subject": 64, "purpose": 64, "channel": 16}  # as the route's Query(max_length)
_HEADERS = [(b"content-type", b"application/json")]


class MayContactFastPath:
    """Answer ``GET /api/v1/may-contact`` directly when nothing is unusual (see module)."""

    def __init__(self, app: ASGIApp, app_state: AppState) -> None:
        self.app = app
        self.app_state = app_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            body = self.answer(scope)
            if body is not None:
                headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def answer(self, scope: Scope) -> bytes | None:
        """The JSON answer, or None: let the route answer (errors, refusals, the unusual)."""
        from integritet.api.auth import allow, bearer_principal, bearer_value

        services = self.app_state.services
        if not services.consent.cached:
            return None
        params = _params(scope)
        token = bearer_value(_header(scope, b"authorization"))
        if params is None or token is None or not token.startswith("itk_"):
            return None
        subject, purpose, channel = params["subject"], params["purpose"], params["channel"]
        try:
            who = bearer_principal(services, token)
            if who is None:
                return None
            cp = services.consent.purpose(purpose, channel)
            allow(services, who, "read")
            customer = services.subject_customer(subject)
            check(
                services.manifest,
                who.actor,
                cp.purpose,
                None,
                "read",
                subject_customer=customer,
                subject=subject,
            )
            decision = services.consent.may_contact(subject, purpose, channel)
        except IntegritetError:
            return None  # the route repeats the checks and answers (and audits) the refusal
        answer = {"allowed": decision.allowed, "reason": decision.reason}
        return json.dumps(answer, ensure_ascii=False).encode()


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _params(scope: Scope) -> dict[str, str] | None:
    query = scope["query_string"].decode("latin-1")
    found: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in LIMITS:
            if key in found or len(value) > LIMITS[key]:
                return None
            found[key] = value
    return found if len(found) == len(LIMITS) else None
