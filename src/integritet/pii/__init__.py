"""PII detection for Swedish and English text: detect, redact, scan and remove.

``from integritet.pii import detect, redact, Entity`` is the guard other
features call (telemetry's collection guard, the web forms' warning, the API).
"""

from __future__ import annotations

from integritet.pii.core import ENTITY_TYPES, VALIDATED, Entity, detect, redact

__all__ = ["ENTITY_TYPES", "VALIDATED", "Entity", "detect", "redact"]
