"""What the portal shows a person, and the request-engine steps it takes for them.

"My data" reads the person's records through the vault *as the person*
(``Actor.subject``), so every view is audited with the subject as actor, and explains
each category from the manifest: why it is held (purposes and legal bases), who
received it (recipients), and until when (retention rules and legal holds in words).

Requests filed in the portal come from a person who signed in with a one-time link sent
to their own email address; :meth:`integritet.requests.Requests.verify_by_link` records
that as the identity verification (method ``signed_in_link``), the way an emailed code
would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from integritet.access import Actor
from integritet.clock import utc
from integritet.errors import IntegritetError, KeyDestroyed, SubjectRestricted
from integritet.manifest import Manifest
from integritet.manifest.model import Category, Duration
from integritet.requests import RequestView
from integritet.services import Services
from integritet.web.i18n import duration_words, pick, translate


@dataclass
class CategoryView:
    """One category of the person's data, explained."""

    id: str
    name: str
    fields: list[tuple[str, str, str]]  # (field id, field name, value)
    records: int
    purposes: list[tuple[str, str]] = field(default_factory=list)  # (name, legal basis)
    recipients: list[tuple[str, str]] = field(default_factory=list)  # (name, country)
    retention: list[str] = field(default_factory=list)
    editable: bool = False
    note: str | None = None


def purpose_for(manifest: Manifest, category: str) -> str:
    """The first purpose that covers ``category`` (the person reads their own data)."""
    for purpose in manifest.purposes:
        if category in purpose.categories:
            return purpose.id
    return manifest.purposes[0].id


def retention_words(manifest: Manifest, category: str, lang: str) -> list[str]:
    """``3 år efter senaste inloggningen``: each rule and legal hold of a category."""
    out = []
    for rule in manifest.rules_for(category):
        out.append(_when(rule.duration, rule.anchor.value, lang))
    for hold in manifest.holds_for(category):
        words = _when(hold.duration, hold.anchor.value, lang)
        out.append(translate(lang, "data.hold", when=words, law=pick(hold.basis, lang)))
    return out


def _when(duration: Duration, anchor: str, lang: str) -> str:
    if duration.amount == 0:
        return translate(lang, f"anchor0.{anchor}")
    amount = duration_words(duration.amount, duration.unit, lang)
    return f"{amount} {translate(lang, f'anchor.{anchor}')}"


def _explain(manifest: Manifest, category: Category, lang: str, view: CategoryView) -> None:
    for purpose in manifest.purposes:
        if category.id in purpose.categories:
            basis = purpose.legal_basis.value if purpose.legal_basis else "none"
            view.purposes.append((pick(purpose.name, lang), translate(lang, f"basis.{basis}")))
    for recipient in manifest.recipients:
        if category.id in recipient.categories:
            view.recipients.append((recipient.name, recipient.country))
    view.retention = retention_words(manifest, category.id, lang)


def my_data(services: Services, actor: Actor, lang: str) -> list[CategoryView]:
    """The person's data by category, read through the vault as the person."""
    manifest = services.manifest
    views = []
    for category in manifest.categories:
        names = {f.id: pick(f.name, lang) for f in category.fields}
        view = CategoryView(
            category.id, pick(category.name, lang), [], 0, editable=category.self_service
        )
        try:
            records = services.vault.records(
                actor, purpose_for(manifest, category.id), actor.id, category.id
            )
        except SubjectRestricted:
            records, view.note = [], translate(lang, "data.restricted")
        except (KeyDestroyed, IntegritetError):
            records, view.note = [], translate(lang, "data.unavailable")
        view.records = len(records)
        for record in records[-1:]:  # the current values (latest record), in manifest order
            order = [f for f in names if f in record.fields]
            order += [k for k in record.fields if k not in names]
            view.fields = [(k, names.get(k, k), str(record.fields[k])) for k in order]
        _explain(manifest, category, lang, view)
        if records or view.note or category.self_service:
            views.append(view)
    return views


def editable_fields(services: Services, actor: Actor, lang: str) -> list[dict[str, Any]]:
    """The self-service fields (V4) with their current values, for the edit form."""
    fields: list[dict[str, Any]] = []
    for view in my_data(services, actor, lang):
        if not view.editable:
            continue
        current = {fid: value for fid, _name, value in view.fields}
        category = services.manifest.category(view.id)
        for spec in category.fields:
            fields.append(
                {
                    "category": view.id,
                    "id": spec.id,
                    "name": pick(spec.name, lang),
                    "value": current.get(spec.id, ""),
                    "identity": spec.identity,
                }
            )
    return fields


def file_request(
    services: Services,
    actor: Actor,
    kind: str,
    changes: dict[str, dict[str, str]] | None = None,
) -> str:
    """File a request about the signed-in person, verified by their sign-in link."""
    request_id = services.requests.new(kind, subject=actor.id, changes=changes, actor=actor.label)
    services.requests.verify_by_link(request_id, actor.id)
    return request_id


DOWNLOAD_WINDOW = timedelta(hours=1)


def download_request(services: Services, actor: Actor, now: datetime) -> str:
    """The access request a portal download is released under.

    The first download files an access request (verified by the sign-in link) and runs it:
    the audit trail has it, and its "completed" email is the one short notice the person
    gets. Another download within :data:`DOWNLOAD_WINDOW` of that completion re-reads the
    data under the same request (the vault audits each read) and sends no more email.
    """
    for view in my_requests(services, actor):
        done = view.completed_at
        recent = done is not None and utc(now) - utc(done) <= DOWNLOAD_WINDOW
        if view.kind.value == "access" and view.status.value == "completed" and recent:
            return view.id
    request_id = file_request(services, actor, "access")
    services.requests.process(request_id)
    return request_id


def my_requests(services: Services, actor: Actor) -> list[RequestView]:
    """The person's own requests, newest first."""
    views = [v for v in services.requests.list_requests() if v.subject_id == actor.id]
    return sorted(views, key=lambda v: v.received_at, reverse=True)


def own_request(services: Services, actor: Actor, request_id: str) -> RequestView:
    """One of the person's requests; someone else's is refused like an unknown one."""
    from integritet.errors import NotFound

    try:
        view = services.requests.get(request_id)
    except NotFound:
        view = None
    if view is None or view.subject_id != actor.id:
        raise NotFound("no such request of yours")
    return view


def kept_by_law(manifest: Manifest, lang: str) -> list[str]:
    """What an erasure keeps (L4): legal holds per category, and what recipients must keep."""
    kept = []
    for hold in manifest.legal_holds:
        names = ", ".join(pick(manifest.category(c).name, lang) for c in hold.categories)
        words = _when(hold.duration, hold.anchor.value, lang)
        kept.append(
            translate(lang, "erase.kept_hold", what=names, when=words, law=pick(hold.basis, lang))
        )
    for recipient in manifest.recipients:
        if recipient.erasure.keeps is not None:
            kept.append(f"{recipient.name}: {pick(recipient.erasure.keeps, lang)}")
    return kept
