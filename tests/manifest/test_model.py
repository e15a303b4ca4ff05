"""The manifest model: durations, lookups, cross-references."""

from __future__ import annotations

from datetime import datetime

import pytest
from ruamel.yaml import YAML

from integritet.errors import NotFound
from integritet.manifest.init import starter_text
from integritet.manifest.model import Duration, Manifest


def starter() -> Manifest:
    return Manifest.model_validate(YAML(typ="safe").load(starter_text()))


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        ("30min", datetime(2025, 1, 1, 12, 0), datetime(2025, 1, 1, 12, 30)),
        ("48h", datetime(2025, 1, 1), datetime(2025, 1, 3)),
        ("2w", datetime(2025, 1, 1), datetime(2025, 1, 15)),
        ("1m", datetime(2025, 1, 31), datetime(2025, 2, 28)),
        ("1m", datetime(2024, 1, 31), datetime(2024, 2, 29)),
        ("3y", datetime(2024, 2, 29), datetime(2027, 2, 28)),
        ("18m", datetime(2025, 12, 15), datetime(2027, 6, 15)),
    ],
)
def test_duration_after(text: str, start: datetime, expected: datetime) -> None:
    assert Duration.parse(text).after(start) == expected


def test_duration_text_forms() -> None:
    d = Duration.parse(" 3y ")
    assert (d.amount, d.unit, str(d), d.words()) == (3, "y", "3y", "3 years")
    assert Duration.parse("2w").approx_days() == 14


@pytest.mark.parametrize("bad", ["3 years", "y3", "", "3.5y", "-1d", "123456d"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        Duration.parse(bad)


def test_lookups_and_missing_ids() -> None:
    m = starter()
    assert m.category("billing").kind == "financial"
    assert m.purpose_allows("accounting", "billing")
    assert not m.purpose_allows("service", "billing")
    assert [r.id for r in m.rules_for("billing")] == ["billing"]
    assert [h.id for h in m.holds_for("billing")] == ["bookkeeping"]
    with pytest.raises(NotFound, match="no purpose with id 'nope'"):
        m.purpose("nope")


def test_reference_problems_name_the_key_path() -> None:
    data = YAML(typ="safe").load(starter_text())
    data["purposes"][1]["categories"].append("biling")
    data["roles"][0]["id"] = "support"
    data["roles"].append(dict(data["roles"][0]))
    problems = Manifest.model_validate(data).reference_problems()
    assert (
        ("purposes", 1, "categories", 2),
        "category 'biling' is not defined (did you mean 'billing'?)",
    ) in problems
    assert (("roles", 1, "id"), "duplicate id 'support' in roles") in problems
    assert starter().reference_problems() == []


def test_unknown_keys_are_refused_by_the_model() -> None:
    data = YAML(typ="safe").load(starter_text())
    data["controller"]["nmae"] = "x"
    with pytest.raises(ValueError, match=r"Extra inputs are not permitted"):
        Manifest.model_validate(data)
