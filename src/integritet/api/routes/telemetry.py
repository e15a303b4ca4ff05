"""Machine telemetry over HTTP: batched ingestion through the collection guard (C2, L2),
registration of sites and machines, and readings for the staff who handle the machine (C4).

- ``POST /telemetry/readings``: a JSON array of records, or JSON lines
  (``application/x-ndjson``). Systems call it with an API token scoped ``ingest_telemetry``.
  The answer counts what was stored and lists, per record the guard changed or refused, the
  fields and the entity types found (``CREDIT_CARD``...), never the values.
- ``POST /telemetry/sites``, ``POST /telemetry/machines``: registration, for callers that
  may ``ingest_telemetry`` (an admin token or a role that can).
- ``GET /telemetry/machines/{machine_id}``: raw readings, newest first, for a caller that can
  ``read_telemetry``, whose role serves the named purpose (one of ``telemetry.purposes``)
  and whose scope reaches the machine (assigned to its customer or to the machine). Every
  read, allowed or refused, is audited by :class:`integritet.telemetry.Telemetry`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from integritet.api.app import state
from integritet.api.auth import Caller, Principal, Purpose, allow
from integritet.api.schemas import Created
from integritet.errors import TelemetryError
from integritet.services import Services
from integritet.telemetry.ingest import Ingest, Numbered, parse_lines
from integritet.telemetry.results import IngestResult

router = APIRouter(prefix="/telemetry", tags=["telemetry"])

MAX_BODY = 8 * 1024 * 1024  # bytes per call; send bigger inputs in several calls
MAX_RECORDS = 50_000
JSON_LINES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "text/")

MachineId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.:-]*$")]


class DecisionOut(BaseModel):
    field: str
    action: Literal["refused", "stripped"]
    reason: str
    types: list[str] = Field(description="Entity types found (CREDIT_CARD...); never values")


class OutcomeOut(BaseModel):
    index: int = Field(description="The record's position in the input, from 1")
    status: Literal["stored", "partial", "refused", "error"]
    machine: str | None
    stored: int = Field(description="Values stored from this record")
    decisions: list[DecisionOut]
    error: str | None


class IngestOut(BaseModel):
    records: int
    stored: int = Field(description="Records stored exactly as sent")
    partial: int = Field(description="Records stored with fields refused or stripped")
    refused: int = Field(description="Records the guard refused (nothing stored)")
    errors: int = Field(description="Records not understood (no machine, unknown machine...)")
    readings: int = Field(description="Values stored")
    types: dict[str, int] = Field(description="Entity types found, per field")
    outcomes: list[OutcomeOut] = Field(description="Every record not stored exactly as sent")


class SiteIn(BaseModel):
    customer: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)


class MachineIn(BaseModel):
    id: MachineId
    customer: str = Field(min_length=1, max_length=32)
    site: str | None = Field(default=None, max_length=32)
    model: str | None = Field(default=None, max_length=200)
    serial: str | None = Field(default=None, max_length=200)


class MachineOut(BaseModel):
    id: str
    customer: str
    site: str | None
    model: str | None
    serial: str | None


class ReadingOut(BaseModel):
    at: datetime
    kind: str
    name: str
    value: float | str | None
    source: str


class Readings(BaseModel):
    machine: MachineOut
    purpose: str
    readings: list[ReadingOut]


INGEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "maxItems": MAX_RECORDS,
                "items": {
                    "type": "object",
                    "required": ["machine", "at"],
                    "properties": {
                        "machine": {"type": "string"},
                        "at": {"type": "string", "format": "date-time"},
                        "source": {"type": "string"},
                    },
                    "additionalProperties": True,
                },
            },
            "example": [{"machine": "lg-0001", "at": "2026-01-15T09:00:00Z", "temperature": 21.5}],
        },
        "application/x-ndjson": {"schema": {"type": "string", "description": "JSON lines"}},
    },
}


def _numbered(body: bytes, content_type: str) -> Iterator[Numbered]:
    """The records of a body: a JSON array (or one object), or JSON lines."""
    if content_type.startswith(JSON_LINES):
        yield from parse_lines(body.decode("utf-8", errors="replace").splitlines())
        return
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise TelemetryError(
            f"the body is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    except UnicodeDecodeError:
        raise TelemetryError("the body is not UTF-8 JSON") from None
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items, 1):
        # never a value in an outcome: a record that is not an object gets a fixed text
        yield index, item if isinstance(item, Mapping) else "not a JSON object"


def _ingest(services: Services, who: Principal, numbered: list[Numbered]) -> IngestResult:
    return Ingest(services.telemetry, who.actor, 5000, None).run(numbered)


@router.post(
    "/readings",
    response_model=IngestOut,
    openapi_extra={"requestBody": INGEST_BODY},
)
async def ingest(who: Caller, request: Request) -> IngestOut:
    """Store readings in batches; the collection guard refuses or strips what it must."""
    services = state(request).services
    allow(services, who, "ingest_telemetry")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise HTTPException(413, f"send at most {MAX_BODY} bytes per call")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"send at most {MAX_BODY} bytes per call")
    numbered = list(_numbered(body, request.headers.get("content-type", "application/json")))
    if len(numbered) > MAX_RECORDS:
        raise TelemetryError(f"send at most {MAX_RECORDS} records per call")
    result = await run_in_threadpool(_ingest, services, who, numbered)
    return IngestOut.model_validate(result.to_dict())


@router.post("/sites", response_model=Created, status_code=201)
def add_site(who: Caller, body: SiteIn, request: Request) -> Created:
    """A site (facility) of a customer."""
    services = state(request).services
    allow(services, who, "ingest_telemetry")
    return Created(id=services.telemetry.add_site(who.actor, body.customer, body.name))


@router.post("/machines", response_model=MachineOut, status_code=201)
def add_machine(who: Caller, body: MachineIn, request: Request) -> MachineOut:
    """Register the id a machine sends, under a customer (and one of its sites)."""
    services = state(request).services
    allow(services, who, "ingest_telemetry")
    machine = services.telemetry.add_machine(
        who.actor, body.id, body.customer, site=body.site, model=body.model, serial=body.serial
    )
    return MachineOut.model_validate(machine.to_dict())


@router.get("/machines/{machine_id}", response_model=Readings)
def readings(
    who: Caller,
    purpose: Purpose,
    machine_id: str,
    request: Request,
    since: datetime | None = None,
    until: datetime | None = None,
    name: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Readings:
    """A machine's readings, newest first: assigned staff only, for a telemetry purpose."""
    services = state(request).services
    allow(services, who, "read_telemetry")
    telemetry = services.telemetry
    rows = telemetry.readings(
        who.actor, machine_id, purpose, since=since, until=until, names=name, limit=limit
    )
    machine = telemetry.machine(machine_id)
    return Readings(
        machine=MachineOut.model_validate(machine.to_dict()),
        purpose=purpose,
        readings=[
            ReadingOut(at=r.at, kind=r.kind, name=r.name, value=r.value, source=r.source)
            for r in rows
        ],
    )
