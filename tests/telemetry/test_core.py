"""Registration and access (C3, C4): only assigned staff, only telemetry purposes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.audit import AuditEventRow
from integritet.errors import AccessDenied, NotFound, TelemetryError

from .conftest import ADMIN, Fleet

RECORD = {"machine": "cm-1", "at": "2026-01-10T08:00:00Z", "boiler_temp": 93.0}


def _load(fleet: Fleet) -> None:
    fleet.telemetry.ingest(ADMIN, [RECORD, {**RECORD, "machine": "cm-9"}])


def test_C4_technician_assigned_to_the_customer_reads_its_machines(fleet: Fleet) -> None:
    _load(fleet)
    tech = Actor.staff("tina", "technician", assigned_customers=frozenset({fleet.acme}))
    [reading] = fleet.telemetry.readings(tech, "cm-1", "troubleshooting")
    assert (reading.name, reading.value) == ("boiler_temp", 93.0)


def test_C4_technician_of_another_customer_is_refused_and_audited(fleet: Fleet) -> None:
    _load(fleet)
    tech = Actor.staff("tina", "technician", assigned_customers=frozenset({fleet.acme}))
    with pytest.raises(AccessDenied, match="assigned"):
        fleet.telemetry.readings(tech, "cm-9", "troubleshooting")
    with Session(fleet.telemetry.engine) as s:
        row = s.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.action == "telemetry.read")
            .order_by(AuditEventRow.position.desc())
        ).first()
    assert row is not None and row.outcome == "denied"
    assert row.customer == fleet.beta
    assert json.loads(row.detail)["machine"] == "cm-9"


def test_C4_unassigned_technician_is_refused(fleet: Fleet) -> None:
    _load(fleet)
    with pytest.raises(AccessDenied):
        fleet.telemetry.readings(Actor.staff("ulf", "technician"), "cm-1", "service")


def test_C4_machine_assignment_reaches_that_machine_only(fleet: Fleet) -> None:
    _load(fleet)
    tech = Actor.staff("mo", "technician", assigned_machines=frozenset({"cm-9"}))
    assert fleet.telemetry.readings(tech, "cm-9", "service")
    with pytest.raises(AccessDenied):
        fleet.telemetry.readings(tech, "cm-1", "service")


def test_C4_sales_with_the_right_assignment_sees_it(fleet: Fleet) -> None:
    _load(fleet)
    sales = Actor.staff("sam", "sales", assigned_customers=frozenset({fleet.beta}))
    assert [r.machine for r in fleet.telemetry.readings(sales, "cm-9", "service")] == ["cm-9"]
    with pytest.raises(AccessDenied):
        fleet.telemetry.readings(sales, "cm-1", "service")


def test_roles_without_read_telemetry_are_refused(fleet: Fleet) -> None:
    _load(fleet)
    finance = Actor.staff("fia", "finance")
    with pytest.raises(AccessDenied):
        fleet.telemetry.readings(finance, "cm-1", "service")


def test_C3_a_purpose_outside_telemetry_purposes_is_refused(fleet: Fleet) -> None:
    _load(fleet)
    with pytest.raises(AccessDenied, match="not a telemetry purpose"):
        fleet.telemetry.readings(ADMIN, "cm-1", "invoicing")
    tech = Actor.staff("tina", "technician", assigned_customers=frozenset({fleet.acme}))
    with pytest.raises(AccessDenied, match="quality"):  # a telemetry purpose the role lacks
        fleet.telemetry.readings(tech, "cm-1", "quality")


def test_registration_checks_customer_site_and_ids(fleet: Fleet) -> None:
    with pytest.raises(NotFound):
        fleet.telemetry.add_machine(ADMIN, "cm-x", "no-such-customer")
    with pytest.raises(NotFound):
        fleet.telemetry.add_machine(ADMIN, "cm-x", fleet.beta, site=fleet.site)
    with pytest.raises(TelemetryError, match="already registered"):
        fleet.telemetry.add_machine(ADMIN, "cm-1", fleet.acme)
    with pytest.raises(TelemetryError, match="machine id"):
        fleet.telemetry.add_machine(ADMIN, "anna svensson", fleet.acme)
    assert [m.id for m in fleet.telemetry.machines(fleet.acme)] == ["cm-1", "cm-2"]
    assert fleet.telemetry.machine("cm-1").serial == "SN100"
    assert [s.name for s in fleet.telemetry.sites(fleet.beta)] == ["Café Göteborg"]


def test_staff_cannot_register_machines_without_ingest_permission(fleet: Fleet) -> None:
    tech = Actor.staff("tina", "technician", assigned_customers=frozenset({fleet.acme}))
    with pytest.raises(AccessDenied):
        fleet.telemetry.add_machine(tech, "cm-7", fleet.acme)
