"""Consents per purpose x channel, with evidence, and ``may-contact``.

Setting a consent records the caller's IP address and user agent as evidence, sealed
under the subject's own key (erased with the subject). Staff need a role that can
``manage_consent``; a data subject sets their own; systems need the token scope.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from integritet.api.app import state
from integritet.api.auth import Caller, Principal, Purpose, check_subject, client_ip
from integritet.api.schemas import ConsentIn, ConsentOut, MayContact
from integritet.audit import AuditEvent
from integritet.consent import ConsentSource, ConsentState, Evidence
from integritet.services import Services

router = APIRouter(tags=["consents"])


@router.get("/subjects/{subject_id}/consents", response_model=list[ConsentOut])
def consents(who: Caller, purpose: Purpose, subject_id: str, request: Request) -> list[ConsentOut]:
    """The current decision for every consent purpose and channel (never_asked included)."""
    services = state(request).services
    check_subject(services, who, subject_id, purpose, "read")
    current = services.consent.current(subject_id)
    services.audit.append_now(
        AuditEvent(
            actor=who.actor.label,
            action="api.consents",
            outcome="allowed",
            purpose=purpose,
            subject=subject_id,
            customer=services.vault.subject_customer(subject_id),
            detail={"count": len(current)},
        )
    )
    return [
        ConsentOut(
            purpose=c.purpose,
            channel=c.channel,
            state=c.state.value,
            at=c.at,
            policy_version=c.policy_version,
        )
        for c in current
    ]


@router.put("/subjects/{subject_id}/consents", response_model=ConsentOut)
def set_consent(who: Caller, subject_id: str, body: ConsentIn, request: Request) -> ConsentOut:
    """Give or withdraw one consent, with evidence (IP, user agent, policy version, text)."""
    services = state(request).services
    cp = services.consent.purpose(body.purpose, body.channel)
    check_subject(services, who, subject_id, cp.purpose, "manage_consent")
    source = ConsentSource.portal if who.actor.kind == "subject" else ConsentSource.api
    evidence = Evidence(
        source,
        services.manifest.policy.version,
        text=body.text,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    services.consent.record(
        subject_id, body.purpose, body.channel, ConsentState(body.state), evidence
    )
    for current in services.consent.current(subject_id):
        if (current.purpose, current.channel) == (body.purpose, body.channel):
            return ConsentOut(
                purpose=current.purpose,
                channel=current.channel,
                state=current.state.value,
                at=current.at,
                policy_version=current.policy_version,
            )
    raise AssertionError("a recorded consent is current")  # pragma: no cover


def _may_contact(
    services: Services, who: Principal, subject: str, purpose: str, channel: str
) -> bytes:
    cp = services.consent.purpose(purpose, channel)
    check_subject(services, who, subject, cp.purpose, "read")
    decision = services.consent.may_contact(subject, purpose, channel)
    return json.dumps(
        {"allowed": decision.allowed, "reason": decision.reason}, ensure_ascii=False
    ).encode()


@router.get("/may-contact", response_model=MayContact)
async def may_contact(
    who: Caller,
    request: Request,
    subject: Annotated[str, Query(max_length=64)],
    purpose: Annotated[str, Query(max_length=64, description="A consent purpose id")],
    channel: Annotated[str, Query(max_length=16)],
) -> Response:
    """May we contact this subject for this consent purpose on this channel? With the reason.

    Answers yes/no for a pseudonymous id and is called per message, so it is not audited
    (the decisions it rests on are in the ledger)."""
    services = state(request).services
    if services.consent.cached:
        # Remembered decisions and relationships (SQLite file): answered from memory, a
        # miss reads the local file; cheaper in the event loop than a thread hand-off.
        body = _may_contact(services, who, subject, purpose, channel)
    else:  # every check queries the database server: off the event loop
        body = await run_in_threadpool(_may_contact, services, who, subject, purpose, channel)
    return Response(body, media_type="application/json")
