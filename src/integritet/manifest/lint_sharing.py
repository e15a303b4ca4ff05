"""Lint rules about recipients, transfers, storage, legal holds and organisation (see lint.py)."""

from __future__ import annotations

from collections.abc import Iterator

from integritet.manifest.legal import (
    ADEQUACY,
    DPF_ADOPTED,
    EEA,
    KNOWN_LAWS,
    PRIVACY_SHIELD_INVALIDATED,
)
from integritet.manifest.lint import Hit, Severity, rule
from integritet.manifest.model import (
    CategoryKind,
    ErasureMethod,
    Manifest,
    RecipientRole,
    TransferMechanism,
)

E, W, I = Severity.error, Severity.warning, Severity.info  # noqa: E741

# --------------------------------------------------------------------------- recipients


@rule(
    "transfer-missing",
    E,
    "Recipient outside the EU/EEA without a transfer mechanism",
    "GDPR Art. 44-46",
    "set transfer.mechanism to scc, bcr or adequacy (EU-US Data Privacy Framework for "
    "certified US companies) with a reference",
)
def _transfer_missing(m: Manifest) -> Iterator[Hit]:
    for i, r in enumerate(m.recipients):
        if r.country in EEA or r.transfer.mechanism != TransferMechanism.none:
            continue
        if r.country in ADEQUACY and r.country != "US":
            yield Hit(
                ("recipients", i, "country"),
                f"recipient {r.id!r} is in {r.country}, which has an adequacy decision: "
                "say so with transfer.mechanism: adequacy",
                Severity.warning,
            )
        else:
            yield Hit(
                ("recipients", i, "country"),
                f"recipient {r.id!r} is in {r.country}, outside the EU/EEA, with no transfer "
                "mechanism",
            )


@rule(
    "transfer-privacy-shield",
    E,
    "Transfer relying on the invalidated EU-US Privacy Shield",
    "CJEU C-311/18 (Schrems II); GDPR Art. 45-46",
    f"use standard contractual clauses (scc) or the EU-US Data Privacy Framework "
    f"(adequacy decision of {DPF_ADOPTED}) for certified US recipients",
)
def _privacy_shield(m: Manifest) -> Iterator[Hit]:
    for i, r in enumerate(m.recipients):
        if r.transfer.mechanism == TransferMechanism.privacy_shield:
            yield Hit(
                ("recipients", i, "transfer", "mechanism"),
                f"recipient {r.id!r} relies on the Privacy Shield, invalidated on "
                f"{PRIVACY_SHIELD_INVALIDATED} by the CJEU (C-311/18, Schrems II); SCCs or the "
                f"EU-US Data Privacy Framework (adequacy, {DPF_ADOPTED}) are valid",
            )


@rule(
    "transfer-derogation",
    W,
    "Transfer relying on an Art. 49 derogation",
    "GDPR Art. 49; EDPB Guidelines 2/2018",
    "derogations cover occasional transfers only; use scc or adequacy for regular ones",
)
def _derogation(m: Manifest) -> Iterator[Hit]:
    for i, r in enumerate(m.recipients):
        if r.transfer.mechanism == TransferMechanism.derogation:
            yield Hit(
                ("recipients", i, "transfer", "mechanism"),
                f"recipient {r.id!r} relies on a derogation for a regular transfer",
            )


@rule(
    "storage-outside-eea",
    E,
    "Storage location outside the EU/EEA without a transfer mechanism",
    "GDPR Art. 44-46; PROMISES V8",
    "store in the EU/EEA, or list the provider as a recipient in that country with a "
    "transfer mechanism",
)
def _storage_outside(m: Manifest) -> Iterator[Hit]:
    covered = {
        (r.name.casefold(), r.country)
        for r in m.recipients
        if r.transfer.mechanism
        in (TransferMechanism.scc, TransferMechanism.bcr, TransferMechanism.adequacy)
    }
    for i, loc in enumerate(m.storage.locations):
        if loc.country in EEA or (loc.country in ADEQUACY and loc.country != "US"):
            continue
        if (loc.provider.casefold(), loc.country) not in covered:
            yield Hit(
                ("storage", "locations", i, "country"),
                f"storage location {loc.id!r} is in {loc.country}, outside the EU/EEA",
            )


def _receives_personal_data(m: Manifest, categories: list[str]) -> bool:
    kinds = {c.id: c.kind for c in m.categories}
    return any(kinds.get(c) != CategoryKind.telemetry for c in categories)


@rule(
    "recipient-no-erasure",
    E,
    "Recipient of personal data that erasure cannot reach",
    "GDPR Art. 19",
    "set erasure.method to webhook, email or manual",
)
def _recipient_erasure(m: Manifest) -> Iterator[Hit]:
    for i, r in enumerate(m.recipients):
        if r.role == RecipientRole.authority or r.required_by_law:
            continue
        if r.erasure.method == ErasureMethod.none and _receives_personal_data(m, r.categories):
            yield Hit(
                ("recipients", i),
                f"recipient {r.id!r} receives personal data but has erasure method none",
            )


@rule(
    "recipient-erasure-incomplete",
    E,
    "Erasure method without its address",
    "GDPR Art. 19",
    "a webhook needs erasure.url; an email needs erasure.email",
)
def _erasure_incomplete(m: Manifest) -> Iterator[Hit]:
    for i, r in enumerate(m.recipients):
        method = r.erasure.method
        if method == ErasureMethod.webhook and not r.erasure.url:
            yield Hit(("recipients", i, "erasure"), f"recipient {r.id!r}: webhook without url")
        if method == ErasureMethod.email and not r.erasure.email:
            yield Hit(("recipients", i, "erasure"), f"recipient {r.id!r}: email without address")


@rule(
    "recipient-unjustified",
    E,
    "Category shared with a recipient that none of its purposes justifies",
    "GDPR Art. 5(1)(b), Art. 6(1); PROMISES L7",
    "add a purpose of the recipient that uses the category, or stop sharing it",
)
def _recipient_unjustified(m: Manifest) -> Iterator[Hit]:
    purposes = {p.id: set(p.categories) for p in m.purposes}
    consented = {cp.id: cp.purpose for cp in m.consent_purposes}
    for i, r in enumerate(m.recipients):
        if r.required_by_law and not r.purposes:
            continue
        names = list(r.purposes)
        if r.consent_purpose in consented:
            names.append(consented[r.consent_purpose])
        allowed = set().union(*(purposes.get(n, set()) for n in names))
        for j, category in enumerate(r.categories):
            if category not in allowed:
                yield Hit(
                    ("recipients", i, "categories", j),
                    f"recipient {r.id!r} receives {category!r}, which none of its purposes uses",
                )


@rule(
    "financial-to-recipient",
    E,
    "Financial data to a recipient that must not get it",
    "PROMISES C5; GDPR Art. 5(1)(b)",
    "remove the financial category from the recipient (or set financial_data: true if it "
    "may receive it)",
)
def _financial(m: Manifest) -> Iterator[Hit]:
    financial = {c.id for c in m.categories if c.kind == CategoryKind.financial}
    for i, r in enumerate(m.recipients):
        for j, category in enumerate(r.categories):
            if category not in financial:
                continue
            if not r.financial_data:
                yield Hit(
                    ("recipients", i, "categories", j),
                    f"recipient {r.id!r} says financial_data: false but receives {category!r}",
                )
            elif r.role == RecipientRole.authority and not r.required_by_law:
                yield Hit(
                    ("recipients", i, "categories", j),
                    f"authority {r.id!r} receives financial category {category!r} without a "
                    "legal obligation (required_by_law)",
                    Severity.warning,
                )


# --------------------------------------------------------------------------- retention


@rule(
    "hold-too-long",
    E,
    "Legal hold longer than its law requires",
    "GDPR Art. 5(1)(e), Art. 17(3)(b); the law named in the hold",
    "shorten the hold to what the law requires",
)
def _hold_too_long(m: Manifest) -> Iterator[Hit]:
    for i, hold in enumerate(m.legal_holds):
        law = KNOWN_LAWS.get(hold.law.strip().casefold())
        if law is not None and hold.duration.approx_days() > law.longest.approx_days():
            yield Hit(
                ("legal_holds", i, "duration"),
                f"hold {hold.id!r} keeps data {hold.duration.words()}, but {law.reference} "
                f"requires at most {law.longest.words()}",
            )


@rule(
    "hold-unknown-law",
    I,
    "Legal hold citing a law the checker does not know",
    "GDPR Art. 17(3)(b)",
    "use a known law id (bokforingslagen, penningtvattslagen, preskriptionslagen) to have "
    "the length checked",
)
def _hold_unknown(m: Manifest) -> Iterator[Hit]:
    for i, hold in enumerate(m.legal_holds):
        if hold.law.strip().casefold() not in KNOWN_LAWS:
            yield Hit(("legal_holds", i, "law"), f"hold {hold.id!r}: its length is not checked")


@rule(
    "retention-hold-unrelated",
    W,
    "Retention rule naming a hold for other categories",
    "GDPR Art. 5(1)(e)",
    "list the hold on the rule for the categories it covers",
)
def _hold_unrelated(m: Manifest) -> Iterator[Hit]:
    holds = {h.id: set(h.categories) for h in m.legal_holds}
    for i, r in enumerate(m.retention):
        for j, hid in enumerate(r.holds):
            if hid in holds and not holds[hid] & set(r.categories):
                yield Hit(
                    ("retention", i, "holds", j),
                    f"rule {r.id!r} names hold {hid!r}, which covers none of its categories",
                )


# --------------------------------------------------------------------------- organisation


@rule(
    "rights-deadline",
    E,
    "Deadline for answering requests longer than one month",
    "GDPR Art. 12(3)",
    "set rights.deadline_days to 30 or less; use extension_days for complex requests",
)
def _rights_deadline(m: Manifest) -> Iterator[Hit]:
    if m.rights.deadline_days > 30:
        yield Hit(
            ("rights", "deadline_days"),
            f"requests are answered within {m.rights.deadline_days} days, more than one month",
        )


@rule(
    "dpo-missing",
    I,
    "No data protection officer named",
    "GDPR Art. 37-39, Art. 13(1)(b)",
    "name a DPO under controller.dpo if you must have one (large-scale monitoring or "
    "sensitive data)",
)
def _dpo(m: Manifest) -> Iterator[Hit]:
    if m.controller.dpo is None:
        yield Hit(("controller",), "no data protection officer is named")


@rule(
    "controller-org-number",
    W,
    "Controller without an organisation number",
    "GDPR Art. 13(1)(a)",
    "add controller.org_number (e.g. 556712-3456)",
)
def _org_number(m: Manifest) -> Iterator[Hit]:
    if not m.controller.org_number:
        yield Hit(("controller",), f"controller {m.controller.name!r} has no org_number")


@rule(
    "role-category-unjustified",
    W,
    "Staff role seeing a category none of its purposes uses",
    "GDPR Art. 5(1)(f), Art. 25(2); PROMISES C4",
    "add a purpose to the role that uses the category, or remove the category",
)
def _role_category(m: Manifest) -> Iterator[Hit]:
    purposes = {p.id: set(p.categories) for p in m.purposes}
    for i, role in enumerate(m.roles):
        if not role.purposes:
            continue
        allowed = set().union(*(purposes.get(p, set()) for p in role.purposes))
        for j, category in enumerate(role.categories):
            if category not in allowed:
                yield Hit(
                    ("roles", i, "categories", j),
                    f"role {role.id!r} sees {category!r}, which none of its purposes uses",
                )


@rule(
    "role-without-mfa",
    W,
    "Powerful staff role without multi-factor authentication",
    "GDPR Art. 32(1)",
    "set mfa: true on roles that can erase, export or manage staff",
)
def _role_mfa(m: Manifest) -> Iterator[Hit]:
    powerful = {"erase", "export", "manage_staff"}
    for i, role in enumerate(m.roles):
        if not role.mfa and powerful & set(role.can):
            yield Hit(
                ("roles", i, "mfa"),
                f"role {role.id!r} can {', '.join(sorted(powerful & set(role.can)))} without MFA",
            )
