"""The policy manifest (``policy.yaml``) as pydantic v2 models.

Every key is documented in ``docs/manifest.md`` (a test checks that each
field appears there). Unknown keys are errors. Cross-references (a purpose
naming a category, a role naming a purpose...) are checked by
:meth:`Manifest.reference_problems`, which returns key paths so the loader can
report ``file:line:col``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, TypeVar

from pydantic import Field

from integritet.manifest.types import (
    ACTIONS,
    Action,
    Anchor,
    Art9Condition,
    CategoryKind,
    Channel,
    ColumnErasure,
    CookieKind,
    Duration,
    ErasureException,
    ErasureMethod,
    GuardAction,
    Id,
    Lang,
    LegalBasis,
    Loc,
    LogFormat,
    RecipientRole,
    RetentionAction,
    Role,
    Scope,
    Source,
    Strict,
    Text,
    TransferMechanism,
    Verification,
)

__all__ = [
    "ACTIONS",
    "Action",
    "Anchor",
    "Art9Condition",
    "CategoryKind",
    "Channel",
    "ColumnErasure",
    "CookieKind",
    "Duration",
    "ErasureException",
    "ErasureMethod",
    "GuardAction",
    "Id",
    "Lang",
    "LegalBasis",
    "Loc",
    "LogFormat",
    "Manifest",
    "RecipientRole",
    "RetentionAction",
    "Role",
    "Scope",
    "Source",
    "Strict",
    "Text",
    "TransferMechanism",
    "Verification",
]


# --------------------------------------------------------------------------- sections


class Address(Strict):
    street: str
    postcode: str
    city: str
    country: str = Field(default="SE", pattern=r"^[A-Z]{2}$")


class Contact(Strict):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    url: str | None = None


class Controller(Strict):
    name: str
    org_number: str | None = None
    address: Address | None = None
    email: str
    phone: str | None = None
    website: str | None = None
    country: str = Field(default="SE", pattern=r"^[A-Z]{2}$")
    dpo: Contact | None = None
    supervisory_authority: str = "Integritetsskyddsmyndigheten (IMY)"
    service: str | None = None  # the product the policy covers, e.g. "VIEWMYBOX" (render)


class PolicyChange(Strict):
    version: str
    date: date
    material: bool
    summary: Text


class PolicyInfo(Strict):
    version: str
    effective: date
    changes: list[PolicyChange] = []
    # how people learn of a material change: consent asked again (C7), email notice (P12),
    # published on the page (L12)
    material_changes: list[Literal["consent", "email", "publish"]] = ["publish"]
    version_at_collection: bool = False  # V5: data follows the version in force when given


class DataSubject(Strict):
    id: Id
    name: Text


class FieldSpec(Strict):
    id: Id
    name: Text
    identity: Literal["email", "phone", "personnummer", "customer_number", "external_id"] | None = (
        None
    )


class Category(Strict):
    id: Id
    name: Text
    kind: CategoryKind = CategoryKind.ordinary
    fields: list[FieldSpec] = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    subjects: list[Id] = []
    role: Role = Role.controller
    art9_condition: Art9Condition | None = None
    justification: Text | None = None  # required for national_id (DSL 3 kap. 10 §)
    self_service: bool = False  # the person may edit these fields (V4)


class Purpose(Strict):
    id: Id
    name: Text
    description: Text | None = None
    legal_basis: LegalBasis | None = None  # required; None is reported by lint, not the schema
    legitimate_interest: Text | None = None
    categories: list[Id] = Field(min_length=1)
    marketing: bool = False


class ConsentPurpose(Strict):
    id: Id
    name: Text
    description: Text | None = None
    purpose: Id  # the purpose (legal basis: consent) this consent serves
    channels: list[Channel] = []
    marketing: bool = False
    soft_opt_in: bool = False  # Marknadsföringslagen 19 § 2 st: existing customers, opt-out


class Transfer(Strict):
    mechanism: TransferMechanism = TransferMechanism.none
    reference: str | None = None


class RecipientErasure(Strict):
    method: ErasureMethod
    url: str | None = None  # webhook endpoint
    email: str | None = None  # where an erasure email goes
    secret_env: str | None = None  # env var holding the webhook's HMAC secret
    keeps: Text | None = None  # what the recipient must keep by law (L6)


class Recipient(Strict):
    id: Id
    name: str
    role: RecipientRole
    description: Text | None = None
    categories: list[Id] = []
    purposes: list[Id] = []
    country: str = Field(default="SE", pattern=r"^[A-Z]{2}$")
    transfer: Transfer = Transfer()
    erasure: RecipientErasure = RecipientErasure(method=ErasureMethod.none)
    notify_before_sharing: bool = False  # L5: the person is told the name first
    required_by_law: bool = False  # J6: disclosure on legal obligation only
    consent_purpose: Id | None = None  # shared only with this consent (L7)
    financial_data: bool = True  # False: never receives financial categories (C5)


class StorageLocation(Strict):
    id: Id
    provider: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    region: str | None = None
    categories: list[Id] = []  # empty: all categories
    default: bool = False


class Storage(Strict):
    locations: list[StorageLocation] = Field(min_length=1)
    customer_choice: bool = False  # J14: the customer picks among locations
    pinned: bool = True  # V8: data may not be written outside the declared locations


class LegalHold(Strict):
    id: Id
    categories: list[Id] = Field(min_length=1)
    duration: Duration
    anchor: Anchor = Anchor.fiscal_year_end
    law: str  # a known law id for lint (e.g. bokforingslagen) or free text
    basis: Text


class RetentionRule(Strict):
    id: Id
    categories: list[Id] = Field(min_length=1)
    duration: Duration
    anchor: Anchor
    event: Id | None = None  # the custom event name when anchor is custom
    action: RetentionAction = RetentionAction.delete
    holds: list[Id] = []  # legal holds that override this rule
    warn_before: Duration | None = None
    aggregates: list[Literal["count_per_month", "count_per_region"]] = []


class Rights(Strict):
    verification: list[Verification] = [Verification.email_code, Verification.staff]
    confirm_erasure: bool = True  # L4
    deadline_days: int = Field(default=30, ge=1, le=90)  # > 30 is a lint error (Art. 12(3))
    extension_days: int = Field(default=60, ge=0, le=60)
    portability_bases: list[LegalBasis] = [LegalBasis.consent, LegalBasis.contract]
    erasure_exceptions: list[ErasureException] = [ErasureException.legal_obligation]
    contact: Contact | None = None
    code_ttl_minutes: int = Field(default=30, ge=1, le=1440)
    settings_page: Text | None = None  # where people edit data and choices (V4, L9)


class StaffRole(Strict):
    id: Id
    name: Text
    purposes: list[Id] = []
    categories: list[Id] = []
    scope: Scope = Scope.all
    mfa: bool = True
    can: list[Action] = ["read"]


class PasswordPolicy(Strict):
    min_length: int = Field(default=12, ge=8, le=128)
    max_age_days: int | None = None
    disallow_common: bool = True


class IdentityProvider(Strict):
    kind: Literal["oidc"] = "oidc"
    name: str
    issuer: str
    client_id: str
    client_secret_env: str | None = None
    passwords: bool = False  # V2: False means integritet stores no passwords


class SessionPolicy(Strict):
    idle_timeout: Duration = Duration(30, "min")
    absolute_timeout: Duration = Duration(7, "d")


class Security(Strict):
    encryption_at_rest: Literal["aes-256-gcm"] = "aes-256-gcm"
    encryption_in_transit: Literal["tls1.2", "tls1.3"] = "tls1.2"
    mfa: bool = True
    password_policy: PasswordPolicy = PasswordPolicy()
    identity_provider: IdentityProvider | None = None
    sessions: SessionPolicy = SessionPolicy()
    certifications: list[str] = []
    customer_audit_log: bool = False  # J16: customers can retrieve the audit log


class Cookie(Strict):
    name: str
    kind: CookieKind
    purpose: Text
    duration: Duration | Literal["session"] = "session"
    personal_data: bool = False


class LogSource(Strict):
    id: Id
    path: str  # a glob; rotated and .gz files included
    format: LogFormat
    pattern: str | None = None  # regex with named groups ts, ip (format: regex)
    time_field: str = "ts"  # jsonl: the timestamp key
    ip_field: str = "ip"  # jsonl: the IP key
    categories: list[Id] = []
    retention: Duration
    ip_retention: Duration | None = None  # IPs truncated after this (P2)


class DatasetReference(Strict):
    column: str
    table: str
    to: str = "id"
    # Whose rows follow whose: "children" (default) collects this table's rows that point to
    # the person's rows in ``table``; "parent" also collects the ``table`` row a person's row
    # points to (e.g. their own address row); "both" does both; "none" only orders erasure.
    follow: Literal["children", "parent", "both", "none"] = "children"


class DatasetColumn(Strict):
    category: Id | None = None
    erase: ColumnErasure = ColumnErasure.null
    identity: Literal["email", "phone", "personnummer", "customer_number", "external_id"] | None = (
        None
    )
    free_text: bool = False  # scanned for typed-in personal data (L2)


class DatasetTable(Strict):
    name: str
    key: str = "id"
    columns: dict[str, DatasetColumn] = {}
    references: list[DatasetReference] = []
    timestamp: str | None = None  # column used by retention
    anchor: Anchor | None = None
    erase: ColumnErasure | None = None  # row-level action overriding column actions


class Dataset(Strict):
    id: Id
    url_env: str | None = None  # env var with the SQLAlchemy URL (preferred)
    url: str | None = None
    tables: list[DatasetTable] = Field(min_length=1)


class TelemetryField(Strict):
    name: str
    kind: Literal["reading", "counter", "alarm", "firmware", "error_code", "note", "status"]
    on_pii: GuardAction = "strip"


class Telemetry(Strict):
    purposes: list[Id] = Field(min_length=1)
    fields: list[TelemetryField] = []
    refuse: list[str] = ["CREDIT_CARD", "IBAN_CODE", "SE_PERSONNUMMER", "SE_BANKGIRO"]
    raw_retention: Duration = Duration(90, "d")
    aggregate_retention: Duration | None = None
    notifications: list[Id] = []  # consent purposes used for alarms/status (L9)


class Manifest(Strict):
    """The whole policy."""

    manifest_version: Literal[1] = 1
    controller: Controller
    policy: PolicyInfo
    subjects: list[DataSubject] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    consent_purposes: list[ConsentPurpose] = []
    recipients: list[Recipient] = []
    storage: Storage
    retention: list[RetentionRule] = []
    legal_holds: list[LegalHold] = []
    rights: Rights = Rights()
    roles: list[StaffRole] = []
    security: Security = Security()
    cookies: list[Cookie] = []
    log_sources: list[LogSource] = []
    datasets: list[Dataset] = []
    telemetry: Telemetry | None = None

    # ----------------------------------------------------------------- lookups

    def category(self, cid: str) -> Category:
        return _by_id(self.categories, cid, "category")

    def purpose(self, pid: str) -> Purpose:
        return _by_id(self.purposes, pid, "purpose")

    def consent_purpose(self, cid: str) -> ConsentPurpose:
        return _by_id(self.consent_purposes, cid, "consent purpose")

    def recipient(self, rid: str) -> Recipient:
        return _by_id(self.recipients, rid, "recipient")

    def role(self, rid: str) -> StaffRole:
        return _by_id(self.roles, rid, "role")

    def hold(self, hid: str) -> LegalHold:
        return _by_id(self.legal_holds, hid, "legal hold")

    def purpose_allows(self, purpose: str, category: str) -> bool:
        return any(p.id == purpose and category in p.categories for p in self.purposes)

    def rules_for(self, category: str) -> list[RetentionRule]:
        return [r for r in self.retention if category in r.categories]

    def holds_for(self, category: str) -> list[LegalHold]:
        return [h for h in self.legal_holds if category in h.categories]

    # ----------------------------------------------------------------- references

    def reference_problems(self) -> list[tuple[Loc, str]]:
        """Duplicate ids and references to undefined ids, as (key path, message)."""
        problems: list[tuple[Loc, str]] = []
        sections: dict[str, list[Any]] = {
            "subjects": self.subjects,
            "categories": self.categories,
            "purposes": self.purposes,
            "consent_purposes": self.consent_purposes,
            "recipients": self.recipients,
            "retention": self.retention,
            "legal_holds": self.legal_holds,
            "roles": self.roles,
            "log_sources": self.log_sources,
            "datasets": self.datasets,
        }
        for name, items in sections.items():
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.id in seen:
                    problems.append(((name, i, "id"), f"duplicate id {item.id!r} in {name}"))
                seen.add(item.id)
        if self.storage:
            seen_loc: set[str] = set()
            for i, sloc in enumerate(self.storage.locations):
                if sloc.id in seen_loc:
                    problems.append(
                        (("storage", "locations", i, "id"), f"duplicate id {sloc.id!r}")
                    )
                seen_loc.add(sloc.id)

        ids = {name: {item.id for item in items} for name, items in sections.items()}

        def ref(loc: Loc, value: str | None, section: str, what: str) -> None:
            if value is not None and value not in ids[section]:
                problems.append((loc, _undefined(what, value, ids[section])))

        for i, c in enumerate(self.categories):
            for j, rid in enumerate(c.subjects):
                ref(("categories", i, "subjects", j), rid, "subjects", "data subject")
        for i, p in enumerate(self.purposes):
            for j, rid in enumerate(p.categories):
                ref(("purposes", i, "categories", j), rid, "categories", "category")
        for i, cp in enumerate(self.consent_purposes):
            ref(("consent_purposes", i, "purpose"), cp.purpose, "purposes", "purpose")
        for i, r in enumerate(self.recipients):
            for j, rid in enumerate(r.categories):
                ref(("recipients", i, "categories", j), rid, "categories", "category")
            for j, rid in enumerate(r.purposes):
                ref(("recipients", i, "purposes", j), rid, "purposes", "purpose")
            ref(
                ("recipients", i, "consent_purpose"),
                r.consent_purpose,
                "consent_purposes",
                "consent purpose",
            )
        for i, sl in enumerate(self.storage.locations):
            for j, rid in enumerate(sl.categories):
                ref(("storage", "locations", i, "categories", j), rid, "categories", "category")
        for i, rule in enumerate(self.retention):
            for j, rid in enumerate(rule.categories):
                ref(("retention", i, "categories", j), rid, "categories", "category")
            for j, rid in enumerate(rule.holds):
                ref(("retention", i, "holds", j), rid, "legal_holds", "legal hold")
            if rule.anchor == Anchor.custom and not rule.event:
                problems.append(
                    (("retention", i, "anchor"), "anchor 'custom' needs an 'event' name")
                )
        for i, hold in enumerate(self.legal_holds):
            for j, rid in enumerate(hold.categories):
                ref(("legal_holds", i, "categories", j), rid, "categories", "category")
        for i, role in enumerate(self.roles):
            for j, rid in enumerate(role.purposes):
                ref(("roles", i, "purposes", j), rid, "purposes", "purpose")
            for j, rid in enumerate(role.categories):
                ref(("roles", i, "categories", j), rid, "categories", "category")
        for i, ls in enumerate(self.log_sources):
            for j, rid in enumerate(ls.categories):
                ref(("log_sources", i, "categories", j), rid, "categories", "category")
        for i, ds in enumerate(self.datasets):
            for t, table in enumerate(ds.tables):
                for col, spec in table.columns.items():
                    ref(
                        ("datasets", i, "tables", t, "columns", col, "category"),
                        spec.category,
                        "categories",
                        "category",
                    )
        if self.telemetry:
            for j, rid in enumerate(self.telemetry.purposes):
                ref(("telemetry", "purposes", j), rid, "purposes", "purpose")
            for j, rid in enumerate(self.telemetry.notifications):
                ref(("telemetry", "notifications", j), rid, "consent_purposes", "consent purpose")
        return problems


T = TypeVar("T")


def _by_id(items: list[T], wanted: str, what: str) -> T:
    for item in items:
        if getattr(item, "id", None) == wanted:
            return item
    from integritet.errors import NotFound

    raise NotFound(f"no {what} with id {wanted!r} in the manifest")


def _undefined(what: str, value: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{what} {value!r} is not defined{hint}"
