"""What changed between two versions of a manifest, and whether each change is material.

A *material* change is one people must be told about or asked about again (C7, P12): a new
purpose, recipient, category or field, longer retention, a new third-country transfer, a changed
legal basis, a new consent purpose. Wording, shorter retention, a removed recipient or new contact
details are not material. :class:`PolicyDiff` also says which categories and consent purposes a
material change touches, so re-consent and notices go only to the people concerned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from integritet.manifest.model import (
    Cookie,
    CookieKind,
    Manifest,
    Recipient,
    RetentionRule,
)

Kind = Literal["added", "removed", "changed"]
_EU = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
EEA = frozenset([*_EU.split(), "IS", "LI", "NO"])


@dataclass(frozen=True)
class Change:
    """One difference: ``section``/``item`` (an id), what happened, and why it is (not) material."""

    section: str
    item: str
    kind: Kind
    material: bool
    reason: str
    field: str | None = None
    old: str | None = None
    new: str | None = None
    categories: tuple[str, ...] = ()
    consent_purposes: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.section} {self.item}" + (f" ({self.field})" if self.field else "")
        return f"{where} {self.kind}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "item": self.item,
            "kind": self.kind,
            "field": self.field,
            "material": self.material,
            "reason": self.reason,
            "old": self.old,
            "new": self.new,
            "categories": list(self.categories),
            "consent_purposes": list(self.consent_purposes),
        }


@dataclass(frozen=True)
class PolicyDiff:
    old_version: str
    new_version: str
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def material(self) -> bool:
        return any(c.material for c in self.changes)

    @property
    def affected_categories(self) -> frozenset[str]:
        """Categories touched by a material change (whose holders get a notice, P12)."""
        return frozenset(cat for c in self.changes if c.material for cat in c.categories)

    @property
    def affected_consent_purposes(self) -> frozenset[str]:
        """Consent purposes whose consent must be asked again (C7)."""
        return frozenset(cp for c in self.changes if c.material for cp in c.consent_purposes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "material": self.material,
            "affected_categories": sorted(self.affected_categories),
            "affected_consent_purposes": sorted(self.affected_consent_purposes),
            "changes": [c.to_dict() for c in self.changes],
        }


T = TypeVar("T")


def _pairs(
    old: Sequence[T], new: Sequence[T], key: Callable[[T], str]
) -> tuple[list[T], list[T], list[tuple[T, T]]]:
    """Items only in ``new``, only in ``old``, and in both (matched by ``key``)."""
    old_by = {key(i): i for i in old}
    new_by = {key(i): i for i in new}
    added = [i for k, i in new_by.items() if k not in old_by]
    removed = [i for k, i in old_by.items() if k not in new_by]
    both = [(old_by[k], i) for k, i in new_by.items() if k in old_by]
    return added, removed, both


def _id(item: Any) -> str:
    return str(item.id)


def _gained(old: Iterable[Any], new: Iterable[Any]) -> list[str]:
    before = {str(x) for x in old}
    return [str(x) for x in new if str(x) not in before]


def _consents_for(m: Manifest, purpose: str) -> tuple[str, ...]:
    return tuple(cp.id for cp in m.consent_purposes if cp.purpose == purpose)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _change(
    section: str,
    item: str,
    reason: str,
    material: bool = True,
    kind: Kind = "changed",
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    cats: Iterable[str] = (),
    cps: Iterable[str] = (),
) -> Change:
    return Change(
        section,
        item,
        kind,
        material,
        reason,
        field,
        _text(old),
        _text(new),
        tuple(cats),
        tuple(cps),
    )


def _purposes(old: Manifest, new: Manifest) -> Iterable[Change]:
    added, removed, both = _pairs(old.purposes, new.purposes, _id)
    for p in added:
        cps = _consents_for(new, p.id)
        yield _change("purposes", p.id, "a new purpose", kind="added", cats=p.categories, cps=cps)
    for p in removed:
        yield _change("purposes", p.id, "a purpose is no longer used", False, "removed")
    for a, b in both:
        cps = _consents_for(new, b.id)
        if a.legal_basis != b.legal_basis:
            yield _change(
                "purposes",
                b.id,
                "the legal basis changed",
                field="legal_basis",
                old=a.legal_basis,
                new=b.legal_basis,
                cats=b.categories,
                cps=cps,
            )
        if gained := _gained(a.categories, b.categories):
            yield _change(
                "purposes",
                b.id,
                "the purpose uses more categories",
                field="categories",
                new=", ".join(gained),
                cats=gained,
                cps=cps,
            )
        if not a.marketing and b.marketing:
            yield _change(
                "purposes",
                b.id,
                "the purpose now includes marketing",
                field="marketing",
                cats=b.categories,
                cps=cps,
            )
        if (a.name, a.description, a.legitimate_interest) != (
            b.name,
            b.description,
            b.legitimate_interest,
        ):
            yield _change("purposes", b.id, "wording only", False, field="name")


def _categories(old: Manifest, new: Manifest) -> Iterable[Change]:
    added, removed, both = _pairs(old.categories, new.categories, _id)
    for c in added:
        yield _change(
            "categories", c.id, "a new category of personal data", kind="added", cats=[c.id]
        )
    for c in removed:
        yield _change("categories", c.id, "a category is no longer collected", False, "removed")
    for a, b in both:
        cats = [b.id]
        if gained := _gained((f.id for f in a.fields), (f.id for f in b.fields)):
            yield _change(
                "categories",
                b.id,
                "new fields are collected",
                field="fields",
                new=", ".join(gained),
                cats=cats,
            )
        if lost := _gained((f.id for f in b.fields), (f.id for f in a.fields)):
            yield _change(
                "categories",
                b.id,
                "fields are no longer collected",
                False,
                field="fields",
                old=", ".join(lost),
            )
        if a.kind != b.kind:
            yield _change(
                "categories",
                b.id,
                "the kind of data changed",
                field="kind",
                old=a.kind,
                new=b.kind,
                cats=cats,
            )
        if gained := _gained(a.sources, b.sources):
            yield _change(
                "categories",
                b.id,
                "data comes from new sources",
                field="sources",
                new=", ".join(gained),
                cats=cats,
            )
        if a.role != b.role:
            yield _change(
                "categories",
                b.id,
                "our role changed",
                field="role",
                old=a.role,
                new=b.role,
                cats=cats,
            )
        if a.name != b.name:
            yield _change("categories", b.id, "wording only", False, field="name")


def _consent_purposes(old: Manifest, new: Manifest) -> Iterable[Change]:
    added, removed, both = _pairs(old.consent_purposes, new.consent_purposes, _id)
    for cp in added:
        yield _change("consent_purposes", cp.id, "a new consent purpose", kind="added", cps=[cp.id])
    for cp in removed:
        yield _change("consent_purposes", cp.id, "a consent purpose was dropped", False, "removed")
    for a, b in both:
        cps = [b.id]
        if gained := _gained(a.channels, b.channels):
            yield _change(
                "consent_purposes",
                b.id,
                "new channels",
                field="channels",
                new=", ".join(gained),
                cps=cps,
            )
        if a.purpose != b.purpose or (b.marketing and not a.marketing):
            yield _change(
                "consent_purposes",
                b.id,
                "what the consent covers changed",
                field="purpose",
                old=a.purpose,
                new=b.purpose,
                cps=cps,
            )
        if not a.soft_opt_in and b.soft_opt_in:
            yield _change(
                "consent_purposes",
                b.id,
                "now sent without asking first",
                field="soft_opt_in",
                cps=cps,
            )
        if (a.name, a.description) != (b.name, b.description):
            yield _change("consent_purposes", b.id, "wording only", False, field="name")


def _recipients(old: Manifest, new: Manifest) -> Iterable[Change]:
    added, removed, both = _pairs(old.recipients, new.recipients, _id)
    for r in added:
        why = "a new recipient" + (" outside the EU/EEA" if r.country not in EEA else "")
        cps = [r.consent_purpose] if r.consent_purpose else []
        yield _change("recipients", r.id, why, kind="added", cats=r.categories, cps=cps)
    for r in removed:
        yield _change("recipients", r.id, "a recipient no longer receives data", False, "removed")
    for a, b in both:
        for change in _recipient_changes(a, b):
            if change.material and b.consent_purpose:
                # data shared on consent now flows differently: that consent must be asked again
                again = tuple(sorted({*change.consent_purposes, b.consent_purpose}))
                change = replace(change, consent_purposes=again)
            yield change


def _recipient_changes(a: Recipient, b: Recipient) -> Iterable[Change]:
    cats = b.categories
    if gained := _gained(a.categories, b.categories):
        yield _change(
            "recipients",
            b.id,
            "the recipient gets more categories",
            field="categories",
            new=", ".join(gained),
            cats=gained,
        )
    if a.country != b.country:
        outside = b.country not in EEA
        why = "a new third-country transfer" if outside else "moved within the EU/EEA"
        yield _change(
            "recipients",
            b.id,
            why,
            outside,
            field="country",
            old=a.country,
            new=b.country,
            cats=cats if outside else (),
        )
    elif a.transfer != b.transfer and b.country not in EEA:
        yield _change(
            "recipients",
            b.id,
            "the transfer mechanism changed",
            field="transfer",
            old=a.transfer.mechanism,
            new=b.transfer.mechanism,
            cats=cats,
        )
    if gained := _gained(a.purposes, b.purposes):
        yield _change(
            "recipients",
            b.id,
            "shared for more purposes",
            field="purposes",
            new=", ".join(gained),
            cats=cats,
        )
    if a.consent_purpose and not b.consent_purpose:
        yield _change(
            "recipients",
            b.id,
            "shared without consent now",
            field="consent_purpose",
            old=a.consent_purpose,
            cats=cats,
        )
    if a.notify_before_sharing and not b.notify_before_sharing:
        yield _change(
            "recipients",
            b.id,
            "no longer named before sharing",
            field="notify_before_sharing",
            cats=cats,
        )
    if not a.financial_data and b.financial_data:
        yield _change(
            "recipients", b.id, "may now receive financial data", field="financial_data", cats=cats
        )
    if (a.name, a.description, a.erasure) != (b.name, b.description, b.erasure):
        yield _change("recipients", b.id, "name, wording or erasure route", False)


def _longer(section: str, item: str, name: str, a: Any, b: Any, cats: Iterable[str]) -> Change:
    longer = b.approx_days() > a.approx_days()
    reason = "kept longer" if longer else "kept for a shorter time"
    return _change(
        section, item, reason, longer, field=name, old=a, new=b, cats=cats if longer else ()
    )


def _retention(old: Manifest, new: Manifest) -> Iterable[Change]:
    added, removed, both = _pairs(old.retention, new.retention, _id)
    for r in added:
        yield _change("retention", r.id, "a new retention limit", False, "added")
    for r in removed:
        yield _change(
            "retention", r.id, "a retention limit was removed", kind="removed", cats=r.categories
        )
    for a, b in both:
        yield from _rule_changes(a, b)
    h_added, h_removed, h_both = _pairs(old.legal_holds, new.legal_holds, _id)
    for h in h_added:
        yield _change(
            "legal_holds", h.id, "data is held longer under a law", kind="added", cats=h.categories
        )
    for h in h_removed:
        yield _change("legal_holds", h.id, "a legal hold was dropped", False, "removed")
    for x, y in h_both:
        if x.duration != y.duration:
            yield _longer("legal_holds", y.id, "duration", x.duration, y.duration, y.categories)


def _rule_changes(a: RetentionRule, b: RetentionRule) -> Iterable[Change]:
    if a.anchor != b.anchor:
        yield _change(
            "retention",
            b.id,
            "counted from another event",
            field="anchor",
            old=a.anchor,
            new=b.anchor,
            cats=b.categories,
        )
    elif a.duration != b.duration:
        yield _longer("retention", b.id, "duration", a.duration, b.duration, b.categories)
    if gained := _gained(a.categories, b.categories):
        yield _change(
            "retention",
            b.id,
            "the limit now covers more categories",
            False,
            field="categories",
            new=", ".join(gained),
        )
    if lost := _gained(b.categories, a.categories):
        yield _change(
            "retention",
            b.id,
            "categories lost this limit",
            field="categories",
            old=", ".join(lost),
            cats=lost,
        )
    if a.action != b.action or a.holds != b.holds:
        yield _change(
            "retention",
            b.id,
            "what happens at the end changed",
            False,
            field="action",
            old=a.action,
            new=b.action,
        )


def _storage(old: Manifest, new: Manifest) -> Iterable[Change]:
    all_cats = [c.id for c in new.categories]
    added, removed, _ = _pairs(old.storage.locations, new.storage.locations, _id)
    for loc in added:
        if loc.country in EEA:
            yield _change("storage", loc.id, "a new location in the EU/EEA", False, "added")
        else:
            yield _change(
                "storage",
                loc.id,
                "stored outside the EU/EEA",
                kind="added",
                cats=loc.categories or all_cats,
            )
    for loc in removed:
        yield _change("storage", loc.id, "a storage location was dropped", False, "removed")
    if old.storage.pinned and not new.storage.pinned:
        yield _change("storage", "pinned", "data may leave the declared locations", cats=all_cats)
    if old.storage.customer_choice != new.storage.customer_choice:
        yield _change("storage", "customer_choice", "the choice of location changed", False)


def _other(old: Manifest, new: Manifest) -> Iterable[Change]:
    added, removed, _ = _pairs(old.subjects, new.subjects, _id)
    for s in added:
        yield _change("subjects", s.id, "a new group of people", kind="added")
    for s in removed:
        yield _change("subjects", s.id, "a group of people is no longer covered", False, "removed")
    c_added, c_removed, _ = _pairs(old.cookies, new.cookies, lambda c: c.name)
    for cookie in c_added:
        yield _cookie_added(cookie)
    for cookie in c_removed:
        yield _change("cookies", cookie.name, "a cookie is no longer set", False, "removed")
    if old.controller.name != new.controller.name:
        yield _change(
            "controller",
            "name",
            "a different controller",
            field="name",
            old=old.controller.name,
            new=new.controller.name,
        )
    if old.controller.model_dump(exclude={"name"}) != new.controller.model_dump(exclude={"name"}):
        yield _change("controller", "contact", "contact details changed", False)
    if old.security.mfa and not new.security.mfa:
        yield _change("security", "mfa", "multi-factor authentication dropped")
    if old.rights != new.rights:
        yield _change("rights", "rights", "how requests are handled changed", False)
    for a, b in _pairs(old.log_sources, new.log_sources, _id)[2]:
        if a.retention != b.retention:
            yield _longer("log_sources", b.id, "retention", a.retention, b.retention, b.categories)
        if a.ip_retention and b.ip_retention and a.ip_retention != b.ip_retention:
            yield _longer(
                "log_sources", b.id, "ip_retention", a.ip_retention, b.ip_retention, b.categories
            )


def _cookie_added(cookie: Cookie) -> Change:
    tracking = cookie.personal_data or cookie.kind in (CookieKind.analytics, CookieKind.marketing)
    reason = "a new tracking cookie" if tracking else "a new necessary or preferences cookie"
    return _change("cookies", cookie.name, reason, tracking, "added")


def _telemetry(old: Manifest, new: Manifest) -> Iterable[Change]:
    a, b = old.telemetry, new.telemetry
    if b is None:
        return
    if a is None:
        yield _change("telemetry", "telemetry", "machine data is now collected", kind="added")
        return
    if gained := _gained(a.purposes, b.purposes):
        yield _change(
            "telemetry",
            "purposes",
            "machine data used for more purposes",
            field="purposes",
            new=", ".join(gained),
        )
    if gained := _gained((f.name for f in a.fields), (f.name for f in b.fields)):
        yield _change(
            "telemetry",
            "fields",
            "more machine data collected",
            field="fields",
            new=", ".join(gained),
        )
    if dropped := _gained(b.refuse, a.refuse):
        yield _change(
            "telemetry",
            "refuse",
            "the machines may now send data they were refused",
            field="refuse",
            old=", ".join(dropped),
        )
    if a.raw_retention != b.raw_retention:
        yield _longer(
            "telemetry", "raw_retention", "raw_retention", a.raw_retention, b.raw_retention, ()
        )


_SECTIONS = (
    _purposes,
    _categories,
    _consent_purposes,
    _recipients,
    _retention,
    _storage,
    _telemetry,
    _other,
)


def diff(old: Manifest, new: Manifest) -> PolicyDiff:
    """Every change from ``old`` to ``new``, each marked material or not, with a reason."""
    changes = tuple(change for section in _SECTIONS for change in section(old, new))
    return PolicyDiff(old.policy.version, new.policy.version, changes)
