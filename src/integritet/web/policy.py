"""Policy versions for the portal ("the version I agreed to, and what changed since") and
the console (every published version, its diff against the one before, its text).

The diff's changes are shown as sentences in the reader's language
(:func:`integritet.web.changes.describe`), not as the diff's technical English reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from integritet.access import Actor
from integritet.consent.publish import PolicyVersion
from integritet.errors import IntegritetError
from integritet.manifest import Manifest
from integritet.manifest.diff import Change, diff
from integritet.services import Services
from integritet.web.changes import describe, section_name
from integritet.web.i18n import pick
from integritet.web.people import purpose_for


@dataclass
class ChangeNote:
    """One published change the person (or staff) should know about."""

    version: str
    date: date | datetime | None
    material: bool
    summary: str
    details: list[str] = field(default_factory=list)


@dataclass
class MyPolicy:
    current: str
    effective: date
    mine: list[str]
    changes: list[ChangeNote]
    published: bool


def my_versions(services: Services, actor: Actor) -> list[str]:
    """The policy versions the person's data and consents were given under (V5)."""
    versions: set[str] = set()
    for category in services.manifest.categories:
        purpose = purpose_for(services.manifest, category.id)
        try:
            records = services.vault.records(actor, purpose, actor.id, category.id)
        except IntegritetError:
            continue
        versions.update(r.policy_version for r in records if r.policy_version)
    for current in services.consent.current(actor.id):
        if current.policy_version:
            versions.add(current.policy_version)
    return sorted(versions)


def stored_manifest(version: PolicyVersion) -> Manifest:
    return Manifest.model_validate_json(version.manifest_json)


def changes_between(older: PolicyVersion, newer: PolicyVersion) -> list[Change]:
    """What changed from one published version to the next (the manifest diff)."""
    return list(diff(stored_manifest(older), stored_manifest(newer)).changes)


def described(older: PolicyVersion, newer: PolicyVersion, lang: str) -> list[dict[str, Any]]:
    """The changes from ``older`` to ``newer`` in sentences of ``lang``, material first."""
    old, new = stored_manifest(older), stored_manifest(newer)
    changes = sorted(diff(old, new).changes, key=lambda c: not c.material)
    return [
        {
            "section": section_name(c.section, lang),
            "text": describe(c, new, old, lang),
            "material": c.material,
            "change": c,
        }
        for c in changes
    ]


def my_policy(services: Services, actor: Actor, lang: str) -> MyPolicy:
    """The person's versions and every published change after the oldest of them."""
    manifest = services.manifest
    mine = my_versions(services, actor) or [manifest.policy.version]
    notes: list[ChangeNote] = []
    listed = [c.version for c in manifest.policy.changes]
    oldest = min((listed.index(v) for v in mine if v in listed), default=None)
    start = oldest + 1 if oldest is not None else 0
    for change in manifest.policy.changes[start:]:
        if change.version not in mine:
            summary = pick(change.summary, lang)
            notes.append(ChangeNote(change.version, change.date, change.material, summary))
    published = services.publisher.versions()
    by_version = {v.version: v for v in published}
    base = next((by_version[v] for v in mine if v in by_version), None)
    if base is not None:
        later = [v for v in published if v.seq > base.seq]
        previous = base
        for version in later:
            details = [d["text"] for d in described(previous, version, lang)]
            note = next((n for n in notes if n.version == version.version), None)
            if note is None:
                note = ChangeNote(version.version, version.published_at, version.material, "")
                notes.append(note)
            note.details = details
            previous = version
    return MyPolicy(
        manifest.policy.version, manifest.policy.effective, mine, notes, bool(published)
    )


def console_versions(services: Services, lang: str) -> list[dict[str, Any]]:
    """Every published version with its changes against the one before, oldest first."""
    out: list[dict[str, Any]] = []
    previous: PolicyVersion | None = None
    for version in services.publisher.versions():
        changes = described(previous, version, lang) if previous is not None else []
        out.append({"version": version, "changes": changes})
        previous = version
    return out
