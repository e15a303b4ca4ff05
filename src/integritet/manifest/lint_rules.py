"""Lint rules about purposes, consent, categories and retention periods (see lint.py)."""

from __future__ import annotations

from collections.abc import Iterator

from integritet.manifest.lint import Hit, Severity, rule
from integritet.manifest.model import CategoryKind, LegalBasis, Manifest

E, W, I = Severity.error, Severity.warning, Severity.info  # noqa: E741

# --------------------------------------------------------------------------- purposes


@rule(
    "purpose-no-legal-basis",
    E,
    "Purpose without a legal basis",
    "GDPR Art. 6(1)",
    "add legal_basis: one of consent, contract, legal_obligation, vital_interests, "
    "public_task, legitimate_interests",
)
def _purpose_basis(m: Manifest) -> Iterator[Hit]:
    for i, p in enumerate(m.purposes):
        if p.legal_basis is None:
            yield Hit(("purposes", i), f"purpose {p.id!r} has no legal basis")


@rule(
    "legitimate-interest-unstated",
    E,
    "Legitimate interests without the interest stated",
    "GDPR Art. 6(1)(f), Art. 13(1)(d)",
    "add legitimate_interest: {sv: ..., en: ...} saying which interest is pursued",
)
def _legitimate_interest(m: Manifest) -> Iterator[Hit]:
    for i, p in enumerate(m.purposes):
        if p.legal_basis == LegalBasis.legitimate_interests and p.legitimate_interest is None:
            yield Hit(
                ("purposes", i, "legal_basis"),
                f"purpose {p.id!r} relies on legitimate interests but does not state the interest",
            )


@rule(
    "marketing-basis",
    E,
    "Marketing purpose on a basis other than consent or legitimate interests",
    "GDPR Art. 6(1)(a) and (f), Art. 21(2)-(3); Marknadsföringslagen (2008:486) 19 §",
    "base marketing on consent, or on legitimate interests with an opt-out",
)
def _marketing_basis(m: Manifest) -> Iterator[Hit]:
    allowed = {LegalBasis.consent, LegalBasis.legitimate_interests}
    for i, p in enumerate(m.purposes):
        if p.marketing and p.legal_basis is not None and p.legal_basis not in allowed:
            yield Hit(
                ("purposes", i, "legal_basis"),
                f"marketing purpose {p.id!r} is based on {p.legal_basis.value}",
            )


@rule(
    "category-unused",
    W,
    "Category that no purpose uses",
    "GDPR Art. 5(1)(b)-(c) (purpose limitation, data minimisation)",
    "add the category to the purpose that needs it, or remove it",
)
def _category_unused(m: Manifest) -> Iterator[Hit]:
    used = {c for p in m.purposes for c in p.categories}
    for i, c in enumerate(m.categories):
        if c.id not in used:
            yield Hit(("categories", i), f"category {c.id!r} is not used by any purpose")


# --------------------------------------------------------------------------- consent


@rule(
    "consent-no-channels",
    E,
    "Consent purpose without channels",
    "GDPR Art. 7; Marknadsföringslagen (2008:486) 19 §",
    "list the channels the consent covers: channels: [email, sms, phone, post]",
)
def _consent_channels(m: Manifest) -> Iterator[Hit]:
    for i, cp in enumerate(m.consent_purposes):
        if not cp.channels:
            yield Hit(("consent_purposes", i), f"consent purpose {cp.id!r} has no channels")


@rule(
    "consent-basis-mismatch",
    E,
    "Consent purpose serving a purpose not based on consent",
    "GDPR Art. 6(1)(a), Art. 7",
    "set legal_basis: consent on the purpose (or soft_opt_in: true for existing customers "
    "under legitimate interests)",
)
def _consent_basis(m: Manifest) -> Iterator[Hit]:
    by_id = {p.id: p for p in m.purposes}
    for i, cp in enumerate(m.consent_purposes):
        purpose = by_id.get(cp.purpose)
        if purpose is None or purpose.legal_basis == LegalBasis.consent:
            continue
        if cp.soft_opt_in and purpose.legal_basis == LegalBasis.legitimate_interests:
            continue
        basis = purpose.legal_basis.value if purpose.legal_basis else "no basis"
        yield Hit(
            ("consent_purposes", i, "purpose"),
            f"consent purpose {cp.id!r} serves purpose {cp.purpose!r}, which is based on {basis}",
        )


# --------------------------------------------------------------------------- categories


@rule(
    "art9-no-condition",
    E,
    "Sensitive (Art. 9) data without an Art. 9(2) condition",
    "GDPR Art. 9(1)-(2)",
    "add art9_condition (e.g. explicit_consent, employment) or stop collecting the data",
)
def _art9(m: Manifest) -> Iterator[Hit]:
    for i, c in enumerate(m.categories):
        if c.kind == CategoryKind.sensitive and c.art9_condition is None:
            yield Hit(("categories", i, "kind"), f"sensitive category {c.id!r} has no condition")


@rule(
    "national-id-no-justification",
    E,
    "Personnummer without a justification",
    "Dataskyddslagen (2018:218) 3 kap. 10 §",
    "add justification: {sv: ..., en: ...} saying why identification must be secure",
)
def _national_id(m: Manifest) -> Iterator[Hit]:
    for i, c in enumerate(m.categories):
        if c.kind == CategoryKind.national_id and c.justification is None:
            yield Hit(
                ("categories", i, "kind"),
                f"category {c.id!r} holds national id numbers without a justification",
            )


def _retained(m: Manifest) -> set[str]:
    kept = {c for r in m.retention for c in r.categories}
    if m.telemetry is not None:
        kept |= {c.id for c in m.categories if c.kind == CategoryKind.telemetry}
    return kept


@rule(
    "retention-missing",
    E,
    "Category without a retention rule",
    "GDPR Art. 5(1)(e) (storage limitation)",
    "add a retention rule listing the category: duration, anchor and action",
)
def _retention_missing(m: Manifest) -> Iterator[Hit]:
    kept = _retained(m)
    for i, c in enumerate(m.categories):
        if c.kind != CategoryKind.network and c.id not in kept:
            yield Hit(("categories", i), f"category {c.id!r} has no retention rule")


@rule(
    "network-retention-missing",
    E,
    "Network or device data (IP, browser) without retention",
    "GDPR Art. 5(1)(e); PROMISES L8, P2",
    "add a retention rule, or a log source listing the category with its retention",
)
def _network_retention(m: Manifest) -> Iterator[Hit]:
    kept = _retained(m) | {c for ls in m.log_sources for c in ls.categories}
    for i, c in enumerate(m.categories):
        if c.kind == CategoryKind.network and c.id not in kept:
            yield Hit(("categories", i), f"network/device category {c.id!r} is kept forever")


@rule(
    "log-retention-longer",
    W,
    "Log files kept longer than the data they contain",
    "GDPR Art. 5(1)(e); PROMISES L8",
    "make the log source's retention at most the longest retention of its categories",
)
def _log_retention(m: Manifest) -> Iterator[Hit]:
    for i, ls in enumerate(m.log_sources):
        limits = [r.duration.approx_days() for c in ls.categories for r in m.rules_for(c)]
        if limits and ls.retention.approx_days() > max(limits):
            yield Hit(
                ("log_sources", i, "retention"),
                f"log source {ls.id!r} keeps lines for {ls.retention}, longer than its categories",
            )
