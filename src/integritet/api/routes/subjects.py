"""Customers, subjects, identities, records and retention events — all through the vault.

Every call names its purpose (query ``purpose`` or header ``X-Purpose``); the vault checks
it, the caller's role and the relationship to the subject against the manifest, and
audits the access with actor and purpose, allowed or refused. Lookups by email, phone or
personnummer are POSTs, so the values never appear in a URL or an access log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from integritet.api.app import state
from integritet.api.auth import Caller, Purpose, allow
from integritet.api.schemas import (
    Created,
    CustomerIn,
    EventIn,
    Found,
    RecordIn,
    RecordOut,
    RecordUpdate,
    SubjectIn,
    SubjectSearch,
)
from integritet.vault import Record

router = APIRouter(tags=["subjects"])


def _out(record: Record) -> RecordOut:
    return RecordOut(
        id=record.id,
        subject_id=record.subject_id,
        category=record.category,
        fields=record.fields,
        source=record.source,
        created_at=record.created_at,
        policy_version=record.policy_version,
        hold_until=record.hold_until,
    )


@router.post("/customers", response_model=Created, status_code=201)
def create_customer(who: Caller, body: CustomerIn, request: Request) -> Created:
    """A customer organisation (tenant). The org number is kept only as a blind index."""
    services = state(request).services
    allow(services, who, "write")
    return Created(id=services.vault.create_customer(who.actor, body.name, body.org_number))


@router.post("/subjects", response_model=Created, status_code=201)
def create_subject(who: Caller, purpose: Purpose, body: SubjectIn, request: Request) -> Created:
    """A new data subject with its identities (sealed; found later by blind index)."""
    services = state(request).services
    allow(services, who, "write")
    sid = services.vault.create_subject(
        who.actor,
        purpose,
        {str(k): v for k, v in body.identities.items()},
        body.customer,
        body.source,
    )
    return Created(id=sid)


@router.post("/subjects/search", response_model=Found)
def find_subject(who: Caller, purpose: Purpose, body: SubjectSearch, request: Request) -> Found:
    """Find a subject by email, phone, personnummer... (blind index; the value is not kept)."""
    services = state(request).services
    allow(services, who, "read")
    return Found(subject=services.vault.find_subject(who.actor, purpose, body.kind, body.value))


@router.get("/subjects/{subject_id}/identities", response_model=dict[str, str])
def identities(who: Caller, purpose: Purpose, subject_id: str, request: Request) -> dict[str, str]:
    """The subject's identity values (decrypted, audited)."""
    services = state(request).services
    allow(services, who, "read")
    return services.vault.identities(who.actor, purpose, subject_id)


@router.get("/subjects/{subject_id}/records", response_model=list[RecordOut])
def records(
    who: Caller,
    purpose: Purpose,
    subject_id: str,
    request: Request,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> list[RecordOut]:
    """The subject's records of one category, or of every category this purpose may read."""
    services = state(request).services
    allow(services, who, "read")
    return [_out(r) for r in services.vault.records(who.actor, purpose, subject_id, category)]


@router.post("/subjects/{subject_id}/records", response_model=Created, status_code=201)
def put_record(
    who: Caller, purpose: Purpose, subject_id: str, body: RecordIn, request: Request
) -> Created:
    """Store a record; the policy version in force is recorded with it (V5)."""
    services = state(request).services
    allow(services, who, "write")
    rid = services.vault.put_record(
        who.actor, purpose, subject_id, body.category, body.fields, body.source
    )
    return Created(id=rid)


@router.get("/records/{record_id}", response_model=RecordOut)
def get_record(who: Caller, purpose: Purpose, record_id: str, request: Request) -> RecordOut:
    """One record by id."""
    services = state(request).services
    allow(services, who, "read")
    return _out(services.vault.record(who.actor, purpose, record_id))


@router.patch("/records/{record_id}", response_model=RecordOut)
def update_record(
    who: Caller, purpose: Purpose, record_id: str, body: RecordUpdate, request: Request
) -> RecordOut:
    """Correct a record's fields (V4, L11); identity fields update the blind index."""
    services = state(request).services
    allow(services, who, "write")
    services.vault.update_record(who.actor, purpose, record_id, body.fields)
    return _out(services.vault.record(who.actor, purpose, record_id))


@router.post("/subjects/{subject_id}/events", status_code=204)
def record_event(who: Caller, subject_id: str, body: EventIn, request: Request) -> None:
    """Set a retention anchor such as ``last_login`` (default: now)."""
    app = state(request)
    allow(app.services, who, "write")
    app.services.vault.record_event(who.actor, subject_id, body.event, body.at or app.clock.now())
