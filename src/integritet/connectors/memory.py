"""An in-memory connector for tests and demos, like httpx's ``MockTransport``.

Holds rows per table, each with the identities it belongs to. It behaves like a real
connector (find, export, erase with a report) and records every call, and it can be told
to fail the next erasure so callers can test their crash handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integritet.connectors.base import ErasureReport, Row, known_identities
from integritet.connectors.identity import FORMS
from integritet.connectors.rectify import RectifyReport
from integritet.errors import ConnectorError


@dataclass
class _Stored:
    row: Row
    owners: dict[str, set[str]]  # identity kind -> normalised forms
    held: bool


@dataclass
class MemoryConnector:
    """A fake company system: ``add`` rows, then find, export and erase them."""

    name: str = "memory"
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _rows: list[_Stored] = field(default_factory=list)
    _fail_next: str | None = None

    def add(
        self,
        table: str,
        key: Any,
        values: Mapping[str, Any],
        *,
        identities: Mapping[str, str],
        held: bool = False,
    ) -> None:
        """Store a row belonging to the person with ``identities``; ``held``: legal hold."""
        owners = {kind: FORMS[kind](v) for kind, v in known_identities(identities).items()}
        self._rows.append(_Stored(Row(table, key, dict(values)), owners, held))

    def fail_next_erase(self, reason: str = "injected failure") -> None:
        self._fail_next = reason

    def _mine(self, identities: Mapping[str, str]) -> list[_Stored]:
        wanted = {kind: FORMS[kind](v) for kind, v in known_identities(identities).items()}
        return [
            s
            for s in self._rows
            if any(s.owners.get(kind, set()) & forms for kind, forms in wanted.items())
        ]

    def find(self, identities: Mapping[str, str]) -> list[Row]:
        self.calls.append(("find", dict(identities)))
        return [s.row for s in self._mine(identities)]

    def export(self, identities: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
        self.calls.append(("export", dict(identities)))
        out: dict[str, list[dict[str, Any]]] = {}
        for stored in self._mine(identities):
            out.setdefault(stored.row.table, []).append(dict(stored.row.values))
        return out

    def erase(self, identities: Mapping[str, str]) -> ErasureReport:
        self.calls.append(("erase", dict(identities)))
        if self._fail_next is not None:
            reason, self._fail_next = self._fail_next, None
            raise ConnectorError(f"{self.name}: erasure failed ({reason})")
        report = ErasureReport(self.name)
        for stored in self._mine(identities):
            part = report.table(stored.row.table)
            if stored.held:
                part.held.append(stored.row.key)
                if "kept under a legal hold" not in part.reasons:
                    part.reasons.append("kept under a legal hold")
            else:
                part.deleted.append(stored.row.key)
                self._rows.remove(stored)
        return report

    def rectify(self, identities: Mapping[str, str], changes: Mapping[str, Any]) -> RectifyReport:
        """Set the corrected values in the person's rows that have that field (a key
        ``"category.field"`` is matched by its field name: the fake has no categories)."""
        self.calls.append(("rectify", dict(identities)))
        report = RectifyReport(self.name)
        fields = {target.rpartition(".")[2]: value for target, value in changes.items()}
        for stored in self._mine(identities):
            values = dict(stored.row.values)
            for name, value in fields.items():
                if name in values and values[name] != value:
                    values[name] = value
                    report.note(stored.row.table, name, stored.row.key)
            stored.row = Row(stored.row.table, stored.row.key, values)
        return report

    def __len__(self) -> int:
        return len(self._rows)
