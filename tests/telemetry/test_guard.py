"""The collection guard on its own: manifest rules and the PII detector, no database."""

from __future__ import annotations

from typing import Any

import pytest

from integritet.manifest.model import Telemetry, TelemetryField
from integritet.telemetry.guard import CollectionGuard, parse_at

CONFIG = Telemetry(
    purposes=["service"],
    fields=[
        TelemetryField(name="boiler_temp", kind="reading"),
        TelemetryField(name="brew_count", kind="counter"),
        TelemetryField(name="error_code", kind="error_code"),
        TelemetryField(name="firmware", kind="firmware"),
        TelemetryField(name="payment_ref", kind="status", on_pii="refuse"),
        TelemetryField(name="technician_note", kind="note", on_pii="strip"),
    ],
)
CARD = "4111 1111 1111 1111"


def check(record: dict[str, Any], config: Telemetry | None = CONFIG) -> Any:
    return CollectionGuard(config).check({"machine": "cm-1", "at": "2026-01-01", **record})


def test_clean_numbers_and_texts_are_kept_with_their_kinds() -> None:
    g = check({"boiler_temp": 92.5, "brew_count": 10, "firmware": "2.14.3", "error_code": "E042"})
    assert not g.decisions and not g.refused
    got = {(v.name, v.kind, v.num, v.text) for v in g.values}
    assert got == {
        ("boiler_temp", "reading", 92.5, None),
        ("brew_count", "counter", 10.0, None),
        ("firmware", "firmware", None, "2.14.3"),
        ("error_code", "error_code", None, "E042"),
    }


def test_card_number_in_a_refuse_field_refuses_the_whole_record() -> None:
    g = check({"boiler_temp": 90, "payment_ref": f"kort {CARD}"})
    assert g.refused
    assert g.values == []
    [decision] = g.decisions
    assert decision.field == "payment_ref" and decision.action == "refused"
    assert decision.types == ("CREDIT_CARD",)
    assert CARD not in repr(g.decisions)


def test_note_has_names_phones_and_cards_stripped_to_types() -> None:
    note = f"Ringde Anna Svensson på 070-123 45 67, kund betalade med {CARD}"
    g = check({"technician_note": note})
    assert not g.refused
    [value] = g.values
    assert value.text == "Ringde [PERSON] på [PHONE_NUMBER], kund betalade med [CREDIT_CARD]"
    [decision] = g.decisions
    assert decision.action == "stripped"
    assert decision.types == ("CREDIT_CARD", "PERSON", "PHONE_NUMBER")
    assert "Anna" not in decision.reason and "070" not in decision.reason


def test_email_in_a_status_field_is_stripped_but_names_are_left_to_notes() -> None:
    g = check({"error_code": "E042 ring anna@example.se"})
    assert g.values[0].text == "E042 ring [EMAIL_ADDRESS]"
    assert g.decisions[0].types == ("EMAIL_ADDRESS",)


@pytest.mark.parametrize(
    ("value", "entity"), [(4111111111111111, "CREDIT_CARD"), (198112189876, "SE_PERSONNUMMER")]
)
def test_long_integers_are_checked_and_dropped_when_they_are_pii(value: int, entity: str) -> None:
    g = check({"brew_count": value, "boiler_temp": 91})
    assert [v.name for v in g.values] == ["boiler_temp"]
    assert g.decisions[0].field == "brew_count"
    assert g.decisions[0].types == (entity,)


def test_undeclared_fields_and_wrong_types_are_refused_field_by_field() -> None:
    g = check({"boiler_temp": "hot", "mystery": 1, "brew_count": 3, "nested": {"a": 1}})
    assert not g.refused
    assert [v.name for v in g.values] == ["brew_count"]
    reasons = {d.field: d.reason for d in g.decisions}
    assert reasons == {
        "boiler_temp": "a reading must be a number",
        "mystery": "not declared in telemetry.fields",
        "nested": "not declared in telemetry.fields",
    }


def test_a_field_name_that_is_not_an_id_is_not_echoed() -> None:
    g = check({"anna@example.se": 1})
    assert g.decisions[0].field == "(a name that is not an id)"
    assert g.decisions[0].action == "refused"


def test_without_declared_fields_kinds_are_inferred_and_nested_values_refused() -> None:
    config = Telemetry(purposes=["service"])
    g = check({"temp": 20.5, "state": "running", "blob": [1, 2], "ok": True}, config)
    kinds = {v.name: (v.kind, v.num, v.text) for v in g.values}
    assert kinds == {
        "temp": ("reading", 20.5, None),
        "state": ("status", None, "running"),
        "ok": ("reading", 1.0, None),
    }
    assert [(d.field, d.reason) for d in g.decisions] == [("blob", "not a number or text")]


def test_non_finite_numbers_and_huge_texts_are_refused() -> None:
    g = check({"boiler_temp": float("nan"), "brew_count": 10**400})
    assert [d.reason for d in g.decisions] == ["not a finite number"] * 2
    assert g.values == []
    g = check({"technician_note": "x" * 10_001, "firmware": "2.1"})
    assert g.decisions[0].reason == "text longer than 10000 characters"
    assert [v.name for v in g.values] == ["firmware"]


def test_detection_can_be_switched_off_for_the_baseline_only() -> None:
    guard = CollectionGuard(CONFIG, detect_pii=False)
    g = guard.check({"technician_note": "Anna Svensson", "mystery": 1})
    assert g.values[0].text == "Anna Svensson"
    assert [d.field for d in g.decisions] == ["mystery"]  # manifest rules still apply


def test_clean_texts_are_scanned_once() -> None:
    guard = CollectionGuard(CONFIG)
    for _ in range(3):
        guard.check({"firmware": "2.14.3"})
    assert list(guard._clean) == [(False, "2.14.3")]


def test_parse_at_accepts_iso_text_and_takes_naive_times_as_utc() -> None:
    at = parse_at("2026-01-15T09:30:00")
    assert at is not None and at.utcoffset() is not None and at.hour == 9
    shifted = parse_at("2026-01-15T10:30:00+01:00")
    assert shifted == at
    assert parse_at("yesterday") is None
    assert parse_at(12) is None
