"""The server side of the free-text warning (L2): the same check ``/api/v1/pii/check``
runs while the person types, applied when a form arrives (so it works without JS)."""

from __future__ import annotations

from integritet.pii import detect


def pii_found(text: str) -> list[str]:
    """The entity types of the personal data in ``text``, each once, in order of position."""
    if not text.strip():
        return []
    seen: list[str] = []
    for entity in detect(text):
        if entity.type not in seen:
            seen.append(entity.type)
    return seen
