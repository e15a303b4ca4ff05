"""Plain results of telemetry operations: what was stored, refused, read or aggregated."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from integritet.telemetry.guard import FieldDecision

Status = Literal["stored", "partial", "refused", "error"]


@dataclass(frozen=True)
class RecordOutcome:
    """One record the guard changed or refused, or that could not be read.

    ``index`` is the record's position in the input, from 1 (the line number of a JSON
    lines file). ``machine`` is the machine id when it is a registered one.
    """

    index: int
    status: Status
    machine: str | None = None
    stored: int = 0
    decisions: tuple[FieldDecision, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "machine": self.machine,
            "stored": self.stored,
            "decisions": [d.to_dict() for d in self.decisions],
            "error": self.error,
        }


@dataclass
class IngestResult:
    """Counts for the whole input plus one outcome per record that was not stored as sent.

    Clean records are only counted, so a million-line file does not build a million outcomes.
    """

    records: int = 0
    stored: int = 0  # records with every field stored as sent
    partial: int = 0  # records stored with fields refused or stripped
    refused: int = 0  # records refused by the guard (nothing stored)
    errors: int = 0  # records not understood (no machine, bad time, unknown machine...)
    readings: int = 0  # values stored
    types: Counter[str] = field(default_factory=Counter)  # entity types found, per field
    outcomes: list[RecordOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.refused == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "stored": self.stored,
            "partial": self.partial,
            "refused": self.refused,
            "errors": self.errors,
            "readings": self.readings,
            "types": dict(sorted(self.types.items())),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


@dataclass(frozen=True)
class Site:
    id: str
    customer: str
    name: str


@dataclass(frozen=True)
class Machine:
    id: str
    customer: str
    site: str | None
    model: str | None
    serial: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer": self.customer,
            "site": self.site,
            "model": self.model,
            "serial": self.serial,
        }


@dataclass(frozen=True)
class Reading:
    machine: str
    at: datetime
    kind: str
    name: str
    value: float | str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "name": self.name,
            "value": self.value,
            "source": self.source,
        }


@dataclass(frozen=True)
class Aggregate:
    """Statistics of one name on one machine over one hour or day."""

    machine: str
    name: str
    period: str
    start: datetime
    count: int
    num_count: int
    min: float | None
    max: float | None
    sum: float | None

    @property
    def avg(self) -> float | None:
        return None if not self.num_count or self.sum is None else self.sum / self.num_count

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "name": self.name,
            "period": self.period,
            "start": self.start.isoformat(),
            "count": self.count,
            "min": self.min,
            "max": self.max,
            "sum": self.sum,
            "avg": self.avg,
        }
