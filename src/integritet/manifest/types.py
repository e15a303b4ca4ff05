"""Base types of the manifest: bilingual text, ids, durations and the enumerations.

Split from ``model.py`` to keep each module within the size limit; ``model.py``
re-exports every name here, so ``from integritet.manifest.model import Duration``
keeps working.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, StringConstraints
from pydantic_core import CoreSchema, core_schema

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Lang = Literal["sv", "en"]
LANGS: tuple[Lang, ...] = ("sv", "en")
Loc = tuple[str | int, ...]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Text(Strict):
    """A text in both published languages."""

    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def __getitem__(self, lang: str) -> str:
        return self.sv if lang == "sv" else self.en


# --------------------------------------------------------------------------- durations

_DURATION = re.compile(r"^\s*(\d{1,5})\s*(min|h|d|w|m|y)\s*$")
_UNIT_WORDS = {
    "min": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
    "m": "months",
    "y": "years",
}


@dataclass(frozen=True)
class Duration:
    """A calendar duration ``<number><unit>``: ``30min``, ``48h``, ``30d``, ``2w``, ``18m``, ``3y``.

    ``m`` is months; minutes are ``min``.
    """

    amount: int
    unit: Literal["min", "h", "d", "w", "m", "y"]

    @classmethod
    def parse(cls, value: str) -> Duration:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                f"bad duration {value!r}: write a number and a unit, "
                "e.g. 30min, 48h, 30d, 18m or 3y"
            )
        return cls(int(match.group(1)), match.group(2))  # type: ignore[arg-type]

    def after(self, start: datetime) -> datetime:
        """``start`` plus this duration, month ends clamped (31 Jan + 1m = 28/29 Feb)."""
        if self.unit == "min":
            return start + timedelta(minutes=self.amount)
        if self.unit == "h":
            return start + timedelta(hours=self.amount)
        if self.unit == "d":
            return start + timedelta(days=self.amount)
        if self.unit == "w":
            return start + timedelta(weeks=self.amount)
        months = self.amount * (12 if self.unit == "y" else 1)
        year, month0 = divmod(start.month - 1 + months, 12)
        year += start.year
        day = min(start.day, _days_in_month(year, month0 + 1))
        return start.replace(year=year, month=month0 + 1, day=day)

    def approx_days(self) -> float:
        per = {"min": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7, "m": 30.44, "y": 365.25}
        return self.amount * per[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def words(self) -> str:
        return f"{self.amount} {_UNIT_WORDS[self.unit]}"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise ValueError(
                    "bad duration: write a string with a number and a unit, e.g. '30d' or '3y'"
                )
            return cls.parse(value)

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


# --------------------------------------------------------------------------- enums


class CategoryKind(StrEnum):
    ordinary = "ordinary"
    sensitive = "sensitive"  # Art. 9
    national_id = "national_id"  # personnummer, samordningsnummer
    financial = "financial"  # card, bank, billing
    credentials = "credentials"  # passwords (hashes), tokens
    customer_content = "customer_content"  # content the customer stores (J2)
    telemetry = "telemetry"  # machine data (C1)
    network = "network"  # IP, browser, device (V3, J3, P2)


class Source(StrEnum):
    person = "person"
    customer = "customer"
    reseller = "reseller"
    distributor = "distributor"
    machine = "machine"
    installer = "installer"
    staff = "staff"
    website = "website"
    public = "public"
    authority = "authority"


class Role(StrEnum):
    controller = "controller"
    processor = "processor"


class LegalBasis(StrEnum):
    """Art. 6(1) a-f."""

    consent = "consent"
    contract = "contract"
    legal_obligation = "legal_obligation"
    vital_interests = "vital_interests"
    public_task = "public_task"
    legitimate_interests = "legitimate_interests"


class Art9Condition(StrEnum):
    """Art. 9(2) a-j (the ones a company can plausibly rely on)."""

    explicit_consent = "explicit_consent"
    employment = "employment"
    vital_interests = "vital_interests"
    made_public = "made_public"
    legal_claims = "legal_claims"
    substantial_public_interest = "substantial_public_interest"
    health_care = "health_care"


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    phone = "phone"
    post = "post"


class RecipientRole(StrEnum):
    processor = "processor"
    sub_processor = "sub_processor"
    independent_controller = "independent_controller"
    installer = "installer"
    authority = "authority"


class TransferMechanism(StrEnum):
    none = "none"  # no third-country transfer (EU/EEA)
    adequacy = "adequacy"  # Art. 45 (incl. EU-US Data Privacy Framework)
    scc = "scc"  # Art. 46(2)(c)
    bcr = "bcr"  # Art. 47
    derogation = "derogation"  # Art. 49
    privacy_shield = "privacy_shield"  # invalid since 2020-07-16 (C-311/18)


class ErasureMethod(StrEnum):
    webhook = "webhook"
    email = "email"
    manual = "manual"
    none = "none"


class Anchor(StrEnum):
    collected = "collected"
    last_login = "last_login"
    contract_end = "contract_end"
    subscription_end = "subscription_end"
    deregistered = "deregistered"
    fiscal_year_end = "fiscal_year_end"
    custom = "custom"


class RetentionAction(StrEnum):
    delete = "delete"
    anonymise = "anonymise"
    crypto_shred = "crypto_shred"


class Scope(StrEnum):
    """Which subjects a staff role reaches."""

    all = "all"
    own_customer = "own_customer"  # a customer admin: their own organisation
    assigned = "assigned"  # only customers/machines assigned to the staff member (C4)
    self = "self"  # a data subject: only themselves


class Verification(StrEnum):
    email_code = "email_code"
    staff = "staff"
    sso = "sso"


class ErasureException(StrEnum):
    legal_obligation = "legal_obligation"
    legal_claims = "legal_claims"
    active_agreement = "active_agreement"


class ColumnErasure(StrEnum):
    delete = "delete"  # delete the row
    null = "null"
    mask = "mask"
    keep = "keep"  # not personal / keep as is
    hold = "hold"  # keep under a legal hold


class CookieKind(StrEnum):
    strictly_necessary = "strictly_necessary"
    preferences = "preferences"
    analytics = "analytics"
    marketing = "marketing"


class LogFormat(StrEnum):
    jsonl = "jsonl"
    combined = "combined"  # Apache/nginx combined access log
    regex = "regex"


GuardAction = Literal["refuse", "strip"]

# What a staff role (or an API token) may do; one list for the manifest, access control and tokens.
Action = Literal[
    "read",
    "write",
    "erase",
    "export",
    "manage_requests",
    "manage_staff",
    "read_audit",
    "manage_consent",
    "run_retention",
    "ingest_telemetry",
    "read_telemetry",
]
ACTIONS: tuple[str, ...] = get_args(Action)
