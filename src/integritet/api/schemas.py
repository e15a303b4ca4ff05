"""Request and response bodies of the REST API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

IdentityKind = Literal["email", "phone", "personnummer", "customer_number", "external_id"]
Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class Problem(BaseModel):
    error: str
    detail: str


class Me(BaseModel):
    actor: str
    kind: str
    roles: list[str]
    customer: str | None
    expires_at: datetime | None = None
    scopes: list[str] | None = None


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    code: str | None = Field(default=None, max_length=12, description="TOTP code when MFA is on")


class SignedInOut(BaseModel):
    actor: str
    csrf_token: str
    expires_at: datetime
    session_token: str = Field(description="Also set as the HttpOnly session cookie")


class SubjectLinkIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)


class Accepted(BaseModel):
    detail: str


class CustomerIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    org_number: str | None = Field(default=None, max_length=20)


class Created(BaseModel):
    id: str


class SubjectIn(BaseModel):
    identities: dict[IdentityKind, str] = Field(min_length=1)
    customer: str | None = Field(default=None, max_length=32)
    source: str = Field(default="person", max_length=32)


class SubjectSearch(BaseModel):
    kind: IdentityKind
    value: str = Field(min_length=1, max_length=320)


class Found(BaseModel):
    subject: str | None


class RecordIn(BaseModel):
    category: str = Id
    fields: dict[str, Any]
    source: str = Field(default="person", max_length=32)


class RecordUpdate(BaseModel):
    fields: dict[str, Any]


class RecordOut(BaseModel):
    id: str
    subject_id: str
    category: str
    fields: dict[str, Any]
    source: str
    created_at: datetime
    policy_version: str
    hold_until: datetime | None = None


class EventIn(BaseModel):
    event: str = Id
    at: datetime | None = None


class ConsentIn(BaseModel):
    purpose: str = Id
    channel: Literal["email", "sms", "phone", "post"]
    state: Literal["given", "withdrawn"]
    text: str | None = Field(default=None, max_length=5000, description="The text shown")


class ConsentOut(BaseModel):
    purpose: str
    channel: str
    state: str
    at: datetime | None
    policy_version: str | None


class MayContact(BaseModel):
    allowed: bool
    reason: str


class RequestIn(BaseModel):
    kind: Literal["access", "portability", "rectification", "restriction", "erasure", "objection"]
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    personnummer: str | None = Field(default=None, max_length=20)
    subject: str | None = Field(default=None, max_length=32)
    changes: dict[str, dict[str, str]] | None = None


class Note(BaseModel):
    note: str = Field(min_length=1, max_length=500)


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    exception: str | None = Field(default=None, max_length=64)


class Code(BaseModel):
    code: str = Field(min_length=1, max_length=12)


class Status(BaseModel):
    id: str
    status: str


class CallbackIn(BaseModel):
    delivery: str = Field(min_length=1, max_length=128, description="Delivery id or its key")


class PIIIn(BaseModel):
    text: str = Field(max_length=100_000)
    entities: list[str] | None = None


class PIIFinding(BaseModel):
    type: str
    start: int
    end: int
    score: float


class PIIOut(BaseModel):
    findings: list[PIIFinding]
    warning: str | None
