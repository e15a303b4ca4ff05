"""The in-memory connector behaves like a real one and records its calls."""

from __future__ import annotations

import pytest

from integritet.connectors.base import Connector
from integritet.connectors.memory import MemoryConnector
from integritet.errors import ConnectorError


def filled() -> MemoryConnector:
    fake = MemoryConnector("shop")
    anna = {"email": "anna@example.se", "phone": "070-123 45 67"}
    fake.add("users", 1, {"name": "Anna"}, identities=anna)
    fake.add("orders", 10, {"total": 100}, identities=anna, held=True)
    fake.add("users", 2, {"name": "Bo"}, identities={"email": "bo@example.se"})
    return fake


def test_find_and_export_by_any_identity_form() -> None:
    fake = filled()
    assert isinstance(fake, Connector)
    assert [r.key for r in fake.find({"email": "ANNA@example.se"})] == [1, 10]
    assert fake.export({"phone": "+46701234567"}) == {
        "users": [{"name": "Anna"}],
        "orders": [{"total": 100}],
    }
    assert fake.calls[0] == ("find", {"email": "ANNA@example.se"})


def test_erase_deletes_all_but_held_rows() -> None:
    fake = filled()
    report = fake.erase({"email": "anna@example.se"})
    assert report.tables["users"].deleted == [1]
    assert report.tables["orders"].held == [10]
    assert report.totals() == {"deleted": 1, "nulled": 0, "masked": 0, "held": 1}
    assert [r.key for r in fake.find({"email": "anna@example.se"})] == [10]
    assert len(fake) == 2


def test_an_injected_failure_changes_nothing_and_happens_once() -> None:
    fake = filled()
    fake.fail_next_erase("disk full")
    with pytest.raises(ConnectorError, match="disk full"):
        fake.erase({"email": "anna@example.se"})
    assert len(fake) == 3
    assert fake.erase({"email": "anna@example.se"}).totals()["deleted"] == 1
