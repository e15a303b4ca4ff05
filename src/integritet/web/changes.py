"""The changes between two policy versions as sentences for people, in Swedish or English.

:func:`integritet.manifest.diff.diff` explains each :class:`~integritet.manifest.diff.Change`
with a technical English ``reason``. The pages show :func:`describe` instead: the most
specific sentence of :mod:`integritet.web.change_messages` for the change's section, kind,
field and materiality, with ids replaced by the names the manifests give them (purposes,
categories, consent purposes, recipients, channels, legal bases) and durations in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from integritet.manifest import Manifest
from integritet.manifest.diff import EEA, Change
from integritet.web.i18n import duration_words, pick, translate
from integritet.web.messages import MESSAGES

DURATION = re.compile(r"^(\d+)(min|h|d|w|m|y)$")


def keys(change: Change, outside: bool = False) -> list[str]:
    """Message keys for ``change``, most specific first (the last always exists)."""
    field = change.field or "-"
    base = f"change.{change.section}.{change.kind}"
    flag = "m" if change.material else "n"
    found = []
    if outside:
        found.append(f"{base}.outside")
    found += [f"{base}.{field}.{flag}", f"{base}.{field}", f"{base}.{flag}", base]
    return [k for k in found if k in MESSAGES] + ["change.other"]


@dataclass(frozen=True)
class _Names:
    """The names the manifests (newest first) give ids, in one language."""

    manifests: list[Manifest]
    lang: str

    def of(self, section: str, ident: str) -> str:
        for manifest in self.manifests:
            for item in getattr(manifest, section, None) or []:
                if getattr(item, "id", None) == ident:
                    return pick(getattr(item, "name", ident), self.lang) or ident
        return ident

    def field(self, category: str, ident: str) -> str:
        for manifest in self.manifests:
            for cat in manifest.categories:
                for spec in cat.fields if cat.id == category else []:
                    if spec.id == ident:
                        return pick(spec.name, self.lang) or ident
        return ident


def _words(key: str, fallback: str, lang: str) -> str:
    return translate(lang, key) if key in MESSAGES else fallback


def _values(change: Change, value: str | None, names: _Names) -> str:
    """An old/new value in words: names for ids, legal bases, channels, durations."""
    if value is None:
        return "—"
    lang, field = names.lang, change.field or ""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if field == "legal_basis":
        return ", ".join(_words(f"basis.{p}", p, lang) for p in parts)
    if field == "channels":
        return ", ".join(_words(f"channel.{p}", p, lang) for p in parts)
    if field in ("categories", "purposes"):
        return ", ".join(names.of(field, p) for p in parts)
    if field == "fields" and change.section == "categories":
        return ", ".join(names.field(change.item, p) for p in parts)
    found = DURATION.match(value.strip())
    if found:
        return duration_words(int(found[1]), found[2], lang)
    return value


def describe(change: Change, new: Manifest, old: Manifest | None, lang: str) -> str:
    """One sentence for ``change`` in ``lang``."""
    names = _Names([new] + ([old] if old is not None else []), lang)
    params: dict[str, Any] = {
        "item": names.of(change.section, change.item),
        "old": _values(change, change.old, names),
        "new": _values(change, change.new, names),
        "section": section_name(change.section, lang),
    }
    outside = False
    if change.section == "recipients" and change.kind == "added":
        country = next((r.country for r in new.recipients if r.id == change.item), None)
        outside = country is not None and country not in EEA
        params["new"] = country or "—"
    return translate(lang, keys(change, outside)[0], **params)


def section_name(section: str, lang: str) -> str:
    """The section of a change in words (``ändamål``, ``recipients``)."""
    return _words(f"section.{section}", section, lang)
