"""The collection guard (C2, L2): what a machine sends is checked before anything is stored.

Every field of a record goes through the manifest's rules and the PII detector:

- a field not declared in ``telemetry.fields`` (when fields are declared), a value of the
  wrong type (text in a ``reading``/``counter``) or a nested value is **refused**: it is
  not stored, the rest of the record is;
- card, financial and sensitive data (``telemetry.refuse``, e.g. ``CREDIT_CARD``,
  ``IBAN_CODE``, ``SE_PERSONNUMMER``, ``SE_BANKGIRO``) in a field with ``on_pii: refuse``
  **refuses the whole record**; with ``on_pii: strip`` the data is **stripped**: in text the
  detected spans become ``[TYPE]``, a number is dropped;
- contact data (e-mail addresses, phone numbers; in ``note`` fields also person names) is
  always stripped to ``[TYPE]`` (L2: typed in by mistake, never stored).

Numbers skip detection unless they are long enough to be a card or personnummer (9 digits
or more), so numeric readings cost almost nothing. Clean texts are cached (status values,
firmware versions and error codes repeat), so each distinct text is scanned once.
Decisions name fields and entity types, never the values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from integritet.clock import utc
from integritet.manifest.model import Telemetry
from integritet.pii import ENTITY_TYPES, detect, redact

RESERVED = frozenset({"machine", "at", "source"})
"""Record keys that are not fields."""

NUMERIC_KINDS = frozenset({"reading", "counter"})
CONTACT_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER")
NOTE_TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER")
BIG_NUMBER = 10**8  # 9 digits and more may be a card, personnummer or bankgiro
CACHE_SIZE = 50_000
MAX_TEXT = 10_000  # characters in one text value

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")

Action = Literal["refused", "stripped"]


def shown(name: str) -> str:
    """A field name fit for a report: the name when it looks like one, else a placeholder."""
    return name if _NAME.match(name) else "(a name that is not an id)"


@dataclass(frozen=True, slots=True)
class FieldDecision:
    """What the guard did with one field, and why (entity types or a rule; never values)."""

    field: str
    action: Action
    reason: str
    types: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "action": self.action,
            "reason": self.reason,
            "types": list(self.types),
        }


class Value(NamedTuple):
    """One value ready to store (a named tuple: made once per value, so kept cheap)."""

    kind: str
    name: str
    num: float | None
    text: str | None


@dataclass
class Guarded:
    """A record after the guard: the values to store and the decisions taken."""

    values: list[Value] = field(default_factory=list)
    decisions: list[FieldDecision] = field(default_factory=list)
    refused: bool = False  # the whole record is refused

    @property
    def types(self) -> set[str]:
        return {t for d in self.decisions for t in d.types}


class CollectionGuard:
    """Checks records against ``telemetry`` (the manifest section) and the PII detector.

    ``detect_pii=False`` keeps the manifest rules but skips PII detection (the benchmark's
    baseline; never in production).
    """

    def __init__(self, config: Telemetry | None, *, detect_pii: bool = True) -> None:
        self.declared: dict[str, tuple[str, str]] = (
            {f.name: (f.kind, f.on_pii) for f in config.fields} if config else {}
        )
        refuse = config.refuse if config else list(Telemetry.model_fields["refuse"].default)
        self.refuse: tuple[str, ...] = tuple(t for t in refuse if t in ENTITY_TYPES)
        self.detect_pii = detect_pii
        self._text_types = tuple(dict.fromkeys((*self.refuse, *CONTACT_TYPES)))
        self._note_types = tuple(dict.fromkeys((*self.refuse, *NOTE_TYPES)))
        self._number_types = tuple(t for t in self.refuse if t != "IBAN_CODE")
        self._clean: dict[tuple[bool, str], None] = {}

    def check(self, record: Mapping[str, Any]) -> Guarded:
        """Guard every field of ``record`` (the reserved keys excluded)."""
        out = Guarded()
        for name, raw in record.items():
            if name in RESERVED or raw is None:
                continue
            self._field(out, name, raw)
            if out.refused:
                out.values.clear()
                break
        return out

    # ------------------------------------------------------------------ fields

    def _field(self, out: Guarded, name: str, raw: Any) -> None:
        spec = self.declared.get(name)
        if spec is not None:
            kind, on_pii = spec
        elif self.declared or not _NAME.match(name):
            why = "not declared in telemetry.fields" if _NAME.match(name) else "not a field name"
            out.decisions.append(FieldDecision(shown(name), "refused", why))
            return
        else:
            kind, on_pii = _infer_kind(raw), "strip"
        kind_of = type(raw)
        if kind_of is float or kind_of is int or kind_of is bool:
            self._number(out, name, kind, on_pii, int(raw) if kind_of is bool else raw)
        elif kind_of is str:
            if kind in NUMERIC_KINDS:
                out.decisions.append(FieldDecision(name, "refused", f"a {kind} must be a number"))
                return
            self._text(out, name, kind, on_pii, raw)
        else:
            out.decisions.append(FieldDecision(name, "refused", "not a number or text"))

    def _number(self, out: Guarded, name: str, kind: str, on_pii: str, raw: float) -> None:
        if isinstance(raw, float) and not math.isfinite(raw):
            out.decisions.append(FieldDecision(name, "refused", "not a finite number"))
            return
        if self.detect_pii and isinstance(raw, int) and abs(raw) >= BIG_NUMBER:
            found = detect(str(abs(raw)), entities=self._number_types)
            if found:
                types = _types(found)
                if on_pii == "refuse":
                    out.decisions.append(FieldDecision(name, "refused", _because(types), types))
                    out.refused = True
                else:
                    out.decisions.append(FieldDecision(name, "stripped", _because(types), types))
                return
        if kind in NUMERIC_KINDS or kind == "alarm":
            try:
                out.values.append(Value(kind, name, float(raw), None))
            except OverflowError:
                out.decisions.append(FieldDecision(name, "refused", "not a finite number"))
        else:
            out.values.append(Value(kind, name, None, _plain_number(raw)))

    def _text(self, out: Guarded, name: str, kind: str, on_pii: str, raw: str) -> None:
        if len(raw) > MAX_TEXT:
            why = f"text longer than {MAX_TEXT} characters"
            out.decisions.append(FieldDecision(name, "refused", why))
            return
        note = kind == "note"
        if not self.detect_pii or (note, raw) in self._clean:
            out.values.append(Value(kind, name, None, raw))
            return
        found = detect(raw, entities=self._note_types if note else self._text_types)
        if not found:
            if len(self._clean) >= CACHE_SIZE:
                self._clean.clear()
            self._clean[(note, raw)] = None
            out.values.append(Value(kind, name, None, raw))
            return
        types = _types(found)
        if on_pii == "refuse" and any(t in self.refuse for t in types):
            refused = tuple(t for t in types if t in self.refuse)
            out.decisions.append(FieldDecision(name, "refused", _because(refused), refused))
            out.refused = True
            return
        out.decisions.append(FieldDecision(name, "stripped", _because(types), types))
        out.values.append(Value(kind, name, None, redact(raw, found=found)))


def _infer_kind(raw: Any) -> str:
    return "reading" if isinstance(raw, int | float) else "status"


def _plain_number(raw: float) -> str:
    return str(int(raw)) if isinstance(raw, int) or raw.is_integer() else repr(raw)


def _types(found: list[Any]) -> tuple[str, ...]:
    return tuple(sorted({e.type for e in found}))


def _because(types: tuple[str, ...]) -> str:
    return "contains " + ", ".join(types)


def parse_at(raw: Any) -> datetime | None:
    """A record's ``at`` as an aware datetime (ISO 8601 text or a datetime), or None."""
    if isinstance(raw, datetime):
        return utc(raw)
    if isinstance(raw, str):
        try:
            return utc(datetime.fromisoformat(raw))
        except ValueError:
            return None
    return None
