"""Batched ingestion: parse, check the machine and the actor, guard, bulk insert, audit.

Records are processed in batches of ``batch_size``. Per batch: one query resolves the
machines not seen before, every record is guarded (:mod:`integritet.telemetry.guard`), the
values go in with one ``executemany`` insert, and every guard decision is audited (machine,
record index, fields and entity types: never values) in the same transaction. A record
that cannot be understood (not an object, no ``machine``, bad ``at``, unknown machine,
access refused) is an error with its index; the rest of the batch is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.errors import AccessDenied
from integritet.manifest.model import Source
from integritet.telemetry.guard import Guarded, parse_at
from integritet.telemetry.models import MachineRow, ReadingRow
from integritet.telemetry.results import IngestResult, RecordOutcome

if TYPE_CHECKING:
    from integritet.telemetry.core import Progress, Telemetry

Numbered = tuple[int, Mapping[str, Any] | str]  # a record, or why its line is unreadable
SOURCES = frozenset(s.value for s in Source)
COLUMNS = ("machine_id", "at", "kind", "name", "num", "text", "source")
COPY = f"COPY telemetry_readings ({', '.join(COLUMNS)}) FROM STDIN"
INSERT_SQLITE = (
    f"INSERT INTO telemetry_readings ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * 7)})"
)
Row = tuple[Any, ...]  # the values of COLUMNS
READINGS: Table = ReadingRow.__table__  # type: ignore[assignment]


def parse_lines(lines: Iterable[str]) -> Iterator[Numbered]:
    """JSON lines as numbered records; a bad line yields its error text instead."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON (column {exc.colno})"
            continue
        yield number, value if isinstance(value, Mapping) else "not a JSON object"


def sqlite_stamp(at: datetime) -> str:
    """``at`` (UTC) as SQLAlchemy stores a DateTime on SQLite, so comparisons keep working."""
    return at.replace(tzinfo=None).isoformat(" ", "microseconds")


def insert_rows(s: Session, rows: list[Row]) -> None:
    """Insert readings in the session's transaction, by the fastest route per database.

    PostgreSQL: ``COPY``. SQLite: the driver's ``executemany`` with pre-formatted times.
    Others: Core executemany (one statement for the batch; the ORM bulk path would group
    rows by which columns are NULL and run many small statements).
    """
    connection = s.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(COPY) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    elif dialect == "sqlite":
        connection.exec_driver_sql(INSERT_SQLITE, rows)
    else:
        connection.execute(insert(READINGS), [dict(zip(COLUMNS, r, strict=True)) for r in rows])


class Ingest:
    """One ingestion run (its machine cache and result)."""

    def __init__(
        self, telemetry: Telemetry, actor: Actor, batch_size: int, progress: Progress | None
    ) -> None:
        self.t = telemetry
        self.actor = actor
        self.batch_size = max(1, batch_size)
        self.progress = progress
        self.result = IngestResult()
        self.machines: dict[str, str | None] = {}  # id -> customer (None: unknown)
        self.denied: dict[str, str] = {}  # machine -> reason
        self.sqlite = telemetry.engine.dialect.name == "sqlite"

    def run(self, numbered: Iterable[Numbered]) -> IngestResult:
        batch: list[Numbered] = []
        for item in numbered:
            batch.append(item)
            if len(batch) >= self.batch_size:
                self._batch(batch)
                batch = []
        if batch:
            self._batch(batch)
        r = self.result
        self.t.emit(
            None,
            self.actor,
            "telemetry.ingest",
            "done",
            detail={
                "records": r.records,
                "stored": r.stored,
                "partial": r.partial,
                "refused": r.refused,
                "errors": r.errors,
                "readings": r.readings,
            },
        )
        return r

    # ------------------------------------------------------------------ one batch

    def _batch(self, batch: list[Numbered]) -> None:
        self._resolve(batch)
        rows: list[Row] = []
        audits: list[tuple[str, RecordOutcome]] = []
        for index, record in batch:
            outcome = self._record(index, record, rows)
            if outcome is not None:
                self.result.outcomes.append(outcome)
                if outcome.decisions and outcome.machine is not None:
                    audits.append((self.machines[outcome.machine] or "", outcome))
        with Session(self.t.engine) as s, s.begin():
            if rows:
                insert_rows(s, rows)
            for customer, outcome in audits:
                self._audit(s, customer, outcome)
        self.result.records += len(batch)
        if self.progress is not None:
            self.progress(len(batch))

    def _resolve(self, batch: list[Numbered]) -> None:
        """Look up, in one query, the machines of this batch not seen before."""
        wanted = {
            r["machine"]
            for _i, r in batch
            if isinstance(r, Mapping)
            and isinstance(r.get("machine"), str)
            and r["machine"] not in self.machines
        }
        if not wanted:
            return
        with Session(self.t.engine) as s:
            query = select(MachineRow.id, MachineRow.customer_id).where(MachineRow.id.in_(wanted))
            found = {mid: customer for mid, customer in s.execute(query)}
        for machine in wanted:
            customer = found.get(machine)
            self.machines[machine] = customer
            if customer is not None:
                try:
                    self.t.may_ingest(self.actor, customer, machine)
                except AccessDenied as exc:
                    self.denied[machine] = exc.message
                    self.t.emit(
                        None,
                        self.actor,
                        "telemetry.ingest",
                        "denied",
                        customer=customer,
                        detail={"machine": machine, "reason": exc.reason},
                    )

    def _record(
        self, index: int, record: Mapping[str, Any] | str, rows: list[Row]
    ) -> RecordOutcome | None:
        checked = self._envelope(record)
        if isinstance(checked, str):
            self.result.errors += 1
            machine = record.get("machine") if isinstance(record, Mapping) else None
            known = machine if isinstance(machine, str) and self.machines.get(machine) else None
            return RecordOutcome(index, "error", known, error=checked)
        machine, at, source = checked
        guarded = self.t.guard.check(record)  # type: ignore[arg-type]
        for d in guarded.decisions:
            self.result.types.update(d.types)
        if guarded.refused or (guarded.decisions and not guarded.values):
            self.result.refused += 1
            return RecordOutcome(index, "refused", machine, 0, tuple(guarded.decisions))
        if not guarded.values and not guarded.decisions:
            self.result.errors += 1
            return RecordOutcome(index, "error", machine, error="no fields besides machine and at")
        self._rows(rows, machine, at, source, guarded)
        if not guarded.decisions:
            self.result.stored += 1
            return None
        self.result.partial += 1
        return RecordOutcome(
            index, "partial", machine, len(guarded.values), tuple(guarded.decisions)
        )

    def _envelope(self, record: Mapping[str, Any] | str) -> tuple[str, datetime, str] | str:
        """``(machine, at, source)`` of a record, or why it cannot be taken."""
        if isinstance(record, str):
            return record
        if not isinstance(record, Mapping):
            return "not an object"
        machine = record.get("machine")
        if not isinstance(machine, str) or not machine:
            return "no 'machine'"
        if self.machines.get(machine) is None:
            return "unknown machine (register it with 'telemetry machines add')"
        if machine in self.denied:
            return self.denied[machine]
        at = parse_at(record.get("at"))
        if at is None:
            return "no 'at' or not an ISO 8601 time"
        source = record.get("source", "machine")
        if source not in SOURCES:
            return f"unknown 'source' (one of: {', '.join(sorted(SOURCES))})"
        return machine, at, str(source)

    def _rows(self, rows: list[Row], machine: str, at: datetime, source: str, g: Guarded) -> None:
        stamp = sqlite_stamp(at) if self.sqlite else at
        for v in g.values:
            rows.append((machine, stamp, v.kind, v.name, v.num, v.text, source))
        self.result.readings += len(g.values)

    def _audit(self, s: Session, customer: str, outcome: RecordOutcome) -> None:
        refused = [d for d in outcome.decisions if d.action == "refused"]
        stripped = [d for d in outcome.decisions if d.action == "stripped"]
        types = sorted({t for d in outcome.decisions for t in d.types})
        self.t.emit(
            s,
            self.actor,
            "telemetry.guard",
            "denied" if outcome.status == "refused" else "done",
            customer=customer or None,
            detail={
                "machine": outcome.machine,
                "record": outcome.index,
                "record_refused": outcome.status == "refused",
                "fields_refused": len(refused),
                "fields_stripped": len(stripped),
                "types": ",".join(types),
            },
        )
