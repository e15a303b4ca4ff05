"""Erasure reports and identity checks."""

from __future__ import annotations

import pytest

from integritet.connectors.base import ErasureReport, known_identities
from integritet.errors import ConnectorError


def test_report_counts_and_serialises_without_values() -> None:
    report = ErasureReport("crm")
    report.table("contacts").deleted.append(1)
    tickets = report.table("tickets")
    tickets.note_null("reported_by", 7)
    tickets.note_mask("description", 7)
    tickets.note_mask("description", 8)
    report.table("invoices").held.append(3)
    report.table("invoices").reasons.append("kept under legal hold bokforing (bokforingslagen)")
    assert report.totals() == {"deleted": 1, "nulled": 1, "masked": 2, "held": 1}
    data = report.as_dict()
    assert data["dataset"] == "crm"
    assert data["tables"][1] == {
        "table": "tickets",
        "deleted": 0,
        "nulled": 1,
        "masked": 2,
        "held": 0,
        "deleted_keys": [],
        "nulled_columns": ["reported_by"],
        "masked_columns": ["description"],
        "held_keys": [],
        "reasons": [],
    }


def test_known_identities_drop_blanks_and_refuse_unknown_kinds() -> None:
    assert known_identities({"email": "a@b.se", "phone": " "}) == {"email": "a@b.se"}
    with pytest.raises(ConnectorError, match="unknown identity kind"):
        known_identities({"name": "Anna"})
