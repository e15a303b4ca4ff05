"""Rectification in the CRM (Art. 16) on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, select

from connectors import crm
from integritet.connectors.base import Rectifier
from integritet.connectors.memory import MemoryConnector
from integritet.connectors.rectify import targets
from integritet.connectors.sql import SQLConnector
from integritet.errors import ConnectorError

ANNA = {"email": "anna.andersson@ACME.se"}


def _cell(engine: Engine, table: str, column: str, key: int) -> object:
    t = crm.META.tables[table]
    with engine.connect() as conn:
        return conn.execute(select(t.c[column]).where(t.c.id == key)).scalar_one()


def test_category_fields_reach_mapped_columns_of_the_persons_rows(
    connector: SQLConnector, crm_engine: Engine
) -> None:
    before = crm.snapshot(crm_engine)
    changes = {"contact.phone": "+46 70 000 00 01", "contact.street": "Nygatan 2", "title": "VD"}
    report = connector.rectify(ANNA, changes)
    assert _cell(crm_engine, "contacts", "phone", 1) == "+46 70 000 00 01"
    assert _cell(crm_engine, "addresses", "street", 1) == "Nygatan 2"
    after = crm.snapshot(crm_engine)
    assert after["contacts"][1:] == before["contacts"][1:]  # Bo and Berit untouched
    assert after["addresses"][1:] == before["addresses"][1:]
    for table in ("customers", "tickets", "invoices", "logins", "newsletter"):
        assert after[table] == before[table]
    assert report.changed == {"contacts": {"phone": [1]}, "addresses": {"street": [1]}}
    assert report.unmatched == ["title"]  # title is not mapped: never touched
    data = report.as_dict()
    assert data["changed"] == 2
    assert "Nygatan" not in json.dumps(data) and "000 00" not in json.dumps(data)


def test_running_it_again_changes_nothing(connector: SQLConnector, crm_engine: Engine) -> None:
    changes = {"contact.street": "Nygatan 2"}
    assert connector.rectify(ANNA, changes).cells == 1
    again = connector.rectify(ANNA, changes)
    assert again.cells == 0 and again.unchanged == 1


def test_bare_column_names_and_held_tables(connector: SQLConnector, crm_engine: Engine) -> None:
    before = crm.snapshot(crm_engine)
    report = connector.rectify(ANNA, {"ip": "192.0.2.99", "sales.billing_name": "Anna Lund"})
    assert report.changed == {"logins": {"ip": [1, 2]}}
    assert report.held == {"invoices": [1]}  # booked under Bokföringslagen: left as booked
    after = crm.snapshot(crm_engine)
    assert after["invoices"] == before["invoices"]
    assert [_cell(crm_engine, "logins", "ip", k) for k in (1, 2, 3)] == [
        "192.0.2.99",
        "192.0.2.99",
        "192.0.2.20",
    ]


def test_a_failing_correction_changes_nothing(connector: SQLConnector, crm_engine: Engine) -> None:
    before = crm.snapshot(crm_engine)
    with pytest.raises(ConnectorError, match="nothing was changed") as caught:
        # bo@acme.se belongs to another contact: the unique email column refuses it
        connector.rectify(ANNA, {"contact.street": "Nygatan 2", "contact.email": "bo@acme.se"})
    assert "bo@acme.se" not in str(caught.value)
    assert crm.snapshot(crm_engine) == before


def test_targets_map_category_fields_and_columns() -> None:
    specs = {t.name: t for t in crm.dataset().tables}
    found, unmatched = targets(specs, {"contact.name": "X", "email": "y", "sales.nope": "z"})
    assert found == {"contacts": {"name": "X", "email": "y"}, "newsletter": {"email": "y"}}
    assert unmatched == ["sales.nope"]


def test_memory_connector_rectifies_too() -> None:
    memory = MemoryConnector("crm")
    memory.add("people", 1, {"phone": "070"}, identities=ANNA)
    memory.add("people", 2, {"phone": "071"}, identities={"email": "bo@acme.se"})
    assert isinstance(memory, Rectifier)
    report = memory.rectify(ANNA, {"contact.phone": "072"})
    assert report.changed == {"people": {"phone": [1]}}
    assert [r.values["phone"] for r in memory.find(ANNA)] == ["072"]
    assert memory.find({"email": "bo@acme.se"})[0].values["phone"] == "071"
