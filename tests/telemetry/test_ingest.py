"""Ingestion on SQLite and PostgreSQL: batches, per-record outcomes, audit, no values leaked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.audit import AuditEventRow
from integritet.telemetry.models import ReadingRow

from .conftest import Fleet

GATEWAY = Actor.system("gateway")
CARD = "4111 1111 1111 1111"
SYSTEM = Actor.system("ops")


def test_C1_batches_store_every_value_linked_to_the_machine_with_its_source(fleet: Fleet) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        {"machine": "cm-1", "at": (start + timedelta(minutes=i)).isoformat(),
         "boiler_temp": 90 + i % 3, "brew_count": i, "firmware": "2.14.3"}
        for i in range(250)
    ]  # fmt: skip
    seen: list[int] = []
    result = fleet.telemetry.ingest(GATEWAY, records, batch_size=100, progress=seen.append)
    assert (result.records, result.stored, result.readings) == (250, 250, 750)
    assert result.outcomes == [] and result.ok
    assert seen == [100, 100, 50]
    assert fleet.telemetry.count_readings("cm-1") == 750
    newest = fleet.telemetry.readings(SYSTEM, "cm-1", "service", names=["brew_count"], limit=2)
    assert [r.value for r in newest] == [249.0, 248.0]
    assert newest[0].at == start + timedelta(minutes=249)
    assert newest[0].source == "machine"
    # C1: the source is recorded per record
    fleet.telemetry.ingest(
        GATEWAY, [{"machine": "cm-2", "at": "2026-01-02", "brew_count": 3, "source": "reseller"}]
    )
    [given] = fleet.telemetry.readings(SYSTEM, "cm-2", "service")
    assert (given.value, given.source) == (3.0, "reseller")


def test_outcomes_name_fields_and_types_never_values(fleet: Fleet) -> None:
    records = [
        {"machine": "cm-1", "at": "2026-01-01T10:00:00Z", "boiler_temp": 91.0},
        {"machine": "cm-1", "at": "2026-01-01T10:01:00Z",
         "technician_note": f"Anna Svensson betalade med {CARD}"},
        {"machine": "cm-1", "at": "2026-01-01T10:02:00Z", "secret_field": 1},
        {"machine": "cm-404", "at": "2026-01-01T10:03:00Z", "boiler_temp": 1},
        {"machine": "cm-1", "at": "igår", "boiler_temp": 1},
        {"at": "2026-01-01T10:03:00Z", "boiler_temp": 1},
        {"machine": "cm-1", "at": "2026-01-01T10:04:00Z"},
        {"machine": "cm-1", "at": "2026-01-01T10:05:00Z", "source": "hacker", "boiler_temp": 1},
    ]  # fmt: skip
    result = fleet.telemetry.ingest(GATEWAY, records)
    assert (result.stored, result.partial, result.refused, result.errors) == (1, 1, 1, 5)
    by_index = {o.index: o for o in result.outcomes}
    assert by_index[2].status == "partial"
    assert by_index[2].decisions[0].types == ("CREDIT_CARD", "PERSON")
    assert by_index[3].status == "refused"
    assert by_index[3].decisions[0].reason == "not declared in telemetry.fields"
    assert by_index[4].error is not None and "unknown machine" in by_index[4].error
    assert by_index[4].machine is None
    assert by_index[5].error == "no 'at' or not an ISO 8601 time"
    assert by_index[6].error == "no 'machine'"
    assert by_index[7].error == "no fields besides machine and at"
    assert by_index[8].error is not None and by_index[8].error.startswith("unknown 'source'")
    dumped = json.dumps(result.to_dict())
    assert CARD not in dumped and "Anna" not in dumped
    assert result.to_dict()["types"] == {"CREDIT_CARD": 1, "PERSON": 1}
    [note] = fleet.telemetry.readings(SYSTEM, "cm-1", "service", names=["technician_note"])
    assert note.value == "[PERSON] betalade med [CREDIT_CARD]"


def test_guard_decisions_are_audited_with_counts_and_types(fleet: Fleet) -> None:
    records = [
        {"machine": "cm-2", "at": "2026-01-01T10:00:00Z", "technician_note": f"kort {CARD}"},
        {"machine": "cm-2", "at": "2026-01-01T10:00:00Z", "brew_count": 4111111111111111},
    ]
    fleet.telemetry.ingest(GATEWAY, records)
    with Session(fleet.telemetry.engine) as s:
        rows = list(
            s.scalars(select(AuditEventRow).where(AuditEventRow.action.like("telemetry.%")))
        )
    guard_rows = [r for r in rows if r.action == "telemetry.guard"]
    assert len(guard_rows) == 2
    detail = json.loads(guard_rows[0].detail)
    assert detail == {
        "machine": "cm-2", "record": 1, "record_refused": False,
        "fields_refused": 0, "fields_stripped": 1, "types": "CREDIT_CARD",
    }  # fmt: skip
    assert guard_rows[0].customer == fleet.acme
    assert guard_rows[0].actor == "system:gateway"
    summary = [r for r in rows if r.action == "telemetry.ingest"][-1]
    assert json.loads(summary.detail)["records"] == 2
    assert all(CARD not in r.detail and "4111" not in r.detail for r in rows)


def test_json_lines_report_line_numbers_and_staff_need_ingest_permission(fleet: Fleet) -> None:
    lines = [
        json.dumps({"machine": "cm-1", "at": "2026-01-02T00:00:00Z", "boiler_temp": 90}),
        "",
        "{not json",
        "[1, 2]",
        json.dumps({"machine": "cm-1", "at": "2026-01-02T00:01:00Z", "boiler_temp": 91}),
    ]
    result = fleet.telemetry.ingest_lines(GATEWAY, lines)
    assert result.records == 4 and result.stored == 2
    assert [(o.index, o.error) for o in result.outcomes] == [
        (3, "not valid JSON (column 2)"),
        (4, "not a JSON object"),
    ]
    tech = Actor.staff("tina", "technician", assigned_customers=frozenset({fleet.acme}))
    denied = fleet.telemetry.ingest(
        tech, [{"machine": "cm-2", "at": "2026-01-01", "brew_count": 1}]
    )
    assert denied.errors == 1 and denied.readings == 0
    assert denied.outcomes[0].error is not None
    assert "ingest_telemetry" in denied.outcomes[0].error
    assert fleet.telemetry.count_readings("cm-2") == 0


def test_readings_are_stored_apart_from_any_person() -> None:
    columns = set(ReadingRow.__table__.columns.keys())
    assert columns == {"id", "machine_id", "at", "kind", "name", "num", "text", "source"}
    assert not any(fk.column.table.name.startswith("vault_")
                   for fk in ReadingRow.__table__.foreign_keys)  # fmt: skip
