"""Recipients' confirmations: a processor tells us it has done what a webhook asked (Art. 19).

``POST /callbacks/{recipient_id}`` with JSON ``{"delivery": "<id or idempotency key>"}``
and ``X-Integritet-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body under the
recipient's shared secret (the same secret the outgoing webhook was signed with). No
sign-in: the signature is the proof. The delivery is marked confirmed; the request it
belongs to completes on its next processing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError

from integritet.api.app import state
from integritet.api.auth import client_ip
from integritet.api.schemas import CallbackIn
from integritet.connectors.signing import SIGNATURE_HEADER, secret_from_env, verify_signature
from integritet.errors import AccessDenied, ConnectorError, NotFound

router = APIRouter(tags=["callbacks"])


@router.post(
    "/callbacks/{recipient_id}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CallbackIn.model_json_schema()}},
        }
    },
)
async def recipient_callback(recipient_id: str, request: Request) -> dict[str, str]:
    """A recipient confirms a delivery (HMAC-signed body)."""
    app = state(request)
    app.limiter.hit(f"callback:ip:{client_ip(request)}")
    recipient = next((r for r in app.manifest.recipients if r.id == recipient_id), None)
    if recipient is None or recipient.erasure.method.value != "webhook":
        raise NotFound("no webhook recipient with this id")
    body = await request.body()
    secret = secret_from_env(recipient.erasure.secret_env)
    if not verify_signature(secret, body, request.headers.get(SIGNATURE_HEADER)):
        raise AccessDenied("the callback signature does not match")
    try:
        ref = CallbackIn.model_validate_json(body).delivery
    except ValidationError:
        raise ConnectorError('the callback body is not {"delivery": "..."}') from None
    outbox = app.services.requests.ctx.outbox
    status = getattr(outbox, "status", None)
    confirm = getattr(outbox, "confirm", None)
    if status is None or confirm is None:
        raise ConnectorError("no webhook outbox is configured")
    if status(ref).recipient_id != recipient_id:
        raise NotFound("no such delivery for this recipient")
    delivery = confirm(ref)
    return {"delivery": delivery.id, "status": str(delivery.status)}
