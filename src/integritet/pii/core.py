"""``detect`` and ``redact``: the PII guard every other feature calls.

Entity types carry Presidio's names, so a user can switch between the two.
Offsets are Python ``str`` indices (code points), ``text[start:end] == entity.text``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from integritet.pii.detectors import DETECTORS, GATES, NEEDS_DIGIT, Candidate
from integritet.pii.names import persons

ENTITY_TYPES: tuple[str, ...] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "IP_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "SE_PERSONNUMMER",
    "SE_ORGANISATIONSNUMMER",
    "SE_BANKGIRO",
    "SE_PLUSGIRO",
    "ADDRESS",
    "SE_LICENSE_PLATE",
)
"""Every entity type :func:`detect` reports."""

VALIDATED: frozenset[str] = frozenset(
    {"CREDIT_CARD", "IBAN_CODE", "SE_PERSONNUMMER", "SE_ORGANISATIONSNUMMER", "SE_BANKGIRO",
     "SE_PLUSGIRO"}
)  # fmt: skip
"""Types whose findings pass a check digit (and a date, for personnummer)."""

_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class Entity:
    """One finding: ``text[start:end]`` is of ``type`` with confidence ``score`` (0..1)."""

    type: str
    start: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _wanted(entities: Collection[str] | None) -> frozenset[str]:
    if entities is None:
        return frozenset(ENTITY_TYPES)
    unknown = set(entities) - set(ENTITY_TYPES)
    if unknown:
        raise ValueError(f"unknown entity types: {', '.join(sorted(unknown))}")
    return frozenset(entities)


def _resolve(candidates: list[Candidate]) -> list[Candidate]:
    """Drop overlaps: the higher score wins, then the longer span."""
    if len(candidates) < 2:
        return candidates
    candidates.sort(key=lambda c: (-c[3], c[1] - c[2], c[1]))
    kept: list[Candidate] = []
    for cand in candidates:
        if all(cand[2] <= k[1] or cand[1] >= k[2] for k in kept):
            kept.append(cand)
    kept.sort(key=lambda c: c[1])
    return kept


def candidates(text: str, wanted: frozenset[str]) -> list[Candidate]:
    """Every candidate of the wanted types, overlaps resolved, any score."""
    found: list[Candidate] = []
    has_digit = not _DIGITS.isdisjoint(text)
    for detector, types in DETECTORS.items():
        if types.isdisjoint(wanted) or (detector in NEEDS_DIGIT and not has_digit):
            continue
        if not GATES[detector](text):
            continue
        detector(text, found)
    if "PERSON" in wanted:
        persons(text, found)
    return [c for c in _resolve(found) if c[0] in wanted]


def detect(
    text: str, *, entities: Collection[str] | None = None, min_score: float = 0.5
) -> list[Entity]:
    """The personal data in ``text``, in order of position.

    ``entities`` limits the types (default: all of :data:`ENTITY_TYPES`);
    findings scoring below ``min_score`` are left out.
    """
    if not text:
        return []
    wanted = _wanted(entities)
    return [
        Entity(kind, start, end, text[start:end], round(score, 2))
        for kind, start, end, score in candidates(text, wanted)
        if score >= min_score
    ]


def redact(
    text: str,
    *,
    entities: Collection[str] | None = None,
    min_score: float = 0.5,
    found: list[Entity] | None = None,
) -> str:
    """``text`` with each finding replaced by ``[TYPE]`` (pass ``found`` to reuse a detect)."""
    if found is None:
        found = detect(text, entities=entities, min_score=min_score)
    if not found:
        return text
    parts: list[str] = []
    pos = 0
    for e in found:
        parts.append(text[pos : e.start])
        parts.append(f"[{e.type}]")
        pos = e.end
    parts.append(text[pos:])
    return "".join(parts)
