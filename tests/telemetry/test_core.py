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


def _last_read(fleet: Fleet) -> AuditEventRow:
    with Session(fleet.telemetry.engine) as s:
        row = s.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.action == "telemetry.read")
            .order_by(AuditEventRow.position.desc())
        ).first()
    assert row is not None
    return row


def test_C4_only_staff_assigned_to_the_customer_or_machine_see_its_data(fleet: Fleet) -> None:
    _load(fleet)
    tech = Actor.staff("tina", "technician", assigned_customers=frozenset({fleet.acme}))
    [reading] = fleet.telemetry.readings(tech, "cm-1", "troubleshooting")
    assert (reading.name, reading.value) == ("boiler_temp", 93.0)
    assert _last_read(fleet).outcome == "allowed"

    # a technician of another customer: refused, and the refusal is audited
    with pytest.raises(AccessDenied, match="assigned"):
        fleet.telemetry.readings(tech, "cm-9", "troubleshooting")
    denied = _last_read(fleet)
    assert (denied.outcome, denied.customer) == ("denied", fleet.beta)
    assert json.loads(denied.detail)["machine"] == "cm-9"

    # an unassigned technician
    with pytest.raises(AccessDenied):
        fleet.telemetry.readings(Actor.staff("ulf", "technician"), "cm-1", "service")

    # assigned to one machine: that machine only
    mo = Actor.staff("mo", "technician", assigned_machines=frozenset({"cm-9"}))
    assert fleet.telemetry.readings(mo, "cm-9", "service")
    with pytest.raises(AccessDenied):
        fleet.telemetry.readings(mo, "cm-1", "service")

    # a role without read_telemetry
    with pytest.raises(AccessDenied):
        fleet.telemetry.readings(Actor.staff("fia", "finance"), "cm-1", "service")


def test_C4_sales_with_the_right_assignment_sees_it(fleet: Fleet) -> None:
    _load(fleet)
    sales = Actor.staff("sam", "sales", assigned_customers=frozenset({fleet.beta}))
    assert [r.machine for r in fleet.telemetry.readings(sales, "cm-9", "service")] == ["cm-9"]
    with pytest.raises(AccessDenied):
        fleet.telemetry.readings(sales, "cm-1", "service")
    # C3: the purposes bound what may be queried
    with pytest.raises(AccessDenied, match="not a telemetry purpose"):
        fleet.telemetry.readings(ADMIN, "cm-1", "invoicing")
    tech = Actor.staff("tina", "technician", assigned_customers=frozenset({fleet.acme}))
    with pytest.raises(AccessDenied, match="quality"):  # a telemetry purpose the role lacks
        fleet.telemetry.readings(tech, "cm-1", "quality")


def test_registration_checks_customer_site_ids_and_permission(fleet: Fleet) -> None:
    with pytest.raises(NotFound):
        fleet.telemetry.add_machine(ADMIN, "cm-x", "no-such-customer")
    with pytest.raises(NotFound):
        fleet.telemetry.add_machine(ADMIN, "cm-x", fleet.beta, site=fleet.site)
    with pytest.raises(TelemetryError, match="already registered"):
        fleet.telemetry.add_machine(ADMIN, "cm-1", fleet.acme)
    with pytest.raises(TelemetryError, match="machine id"):
        fleet.telemetry.add_machine(ADMIN, "anna svensson", fleet.acme)
    tech = Actor.staff("tina", "technician", assigned_customers=frozenset({fleet.acme}))
    with pytest.raises(AccessDenied):
        fleet.telemetry.add_machine(tech, "cm-7", fleet.acme)
    assert [m.id for m in fleet.telemetry.machines(fleet.acme)] == ["cm-1", "cm-2"]
    assert fleet.telemetry.machine("cm-1").serial == "SN100"
    assert [s.name for s in fleet.telemetry.sites(fleet.beta)] == ["Café Göteborg"]
