"""The loader: positions, wording, guards; everything reported, nothing raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from integritet.errors import ManifestError
from integritet.manifest import load
from integritet.manifest.init import starter_text
from integritet.manifest.load import (
    Problem,
    format_loc,
    load_manifest,
    parse_manifest,
    parse_text,
    read_manifest,
)

STARTER = starter_text()


def test_valid_text_loads_with_a_source_map() -> None:
    result = parse_text(STARTER, "p.yaml")
    assert result.problems == []
    assert result.manifest is not None
    line = STARTER.splitlines().index("  - id: billing") + 1
    assert result.source.key(("categories", 1, "id")) == (line, 5)
    assert result.source.value(("categories", 1, "id")) == (line, 9)
    # a key that is not in the document falls back to its nearest ancestor's key
    assert result.source.value(("categories", 1, "nope", 3)) == (line, 5)


def test_format_loc_and_problem_text() -> None:
    assert format_loc(("purposes", 0, "categories", 1)) == "purposes[0].categories[1]"
    assert format_loc(()) == ""
    assert str(Problem("p.yaml", "bad", 3, 7, ("a", 0))) == "p.yaml:3:7: bad (at a[0])"
    assert str(Problem("p.yaml", "no such file")) == "p.yaml: no such file"


def test_load_manifest_raises_with_every_problem(tmp_path: Path) -> None:
    text = STARTER.replace("legal_basis: contract", "legal_basis: contrakt")
    text = text.replace("  deadline_days: 30", "  deadline_days: 99\n  deadlines: 1")
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    problems = caught.value.problems
    assert len(problems) == 3
    assert all(p.startswith(f"{path}:") for p in problems)
    assert "did you mean 'contract'?" in problems[0]
    assert "must be at most 90, found 99 (at rights.deadline_days)" in problems[1]
    assert "unknown key 'deadlines' (did you mean 'deadline_days'?)" in problems[2]
    assert caught.value.message == "\n".join(problems)


def test_parse_manifest_returns_the_model() -> None:
    assert parse_manifest(STARTER).controller.name == "Exempel AB"
    with pytest.raises(ManifestError, match=r"^policy.yaml:1:1: the file is empty"):
        parse_manifest("")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + STARTER.encode())
    assert read_manifest(path).manifest is not None


def test_size_limit_is_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(STARTER)
    monkeypatch.setattr(load, "MAX_MANIFEST_BYTES", 100)
    (problem,) = read_manifest(path).problems
    assert problem.message.startswith(f"file too large ({path.stat().st_size:,} bytes)")
    assert problem.line is None


def test_merge_keys_and_anchors_are_followed() -> None:
    text = STARTER.replace(
        "  - id: contact\n    name: {sv: Namn och kontaktuppgifter, en: Name and contact details}",
        "  - &contact\n    id: contact\n    name: {sv: Namn och kontaktuppgifter, en: Name and contact details}",  # noqa: E501
    ).replace(
        "  - id: billing\n    name: {sv: Faktureringsuppgifter, en: Billing details}\n    kind: financial\n",  # noqa: E501
        "  - <<: *contact\n    id: billing\n    kind: financial\n",
    )
    result = parse_text(text)
    assert result.problems == []
    assert result.manifest is not None
    assert result.manifest.category("billing").name.en == "Name and contact details"


def test_deep_nesting_is_refused() -> None:
    text = "controller: " + "[" * 100 + "]" * 100 + "\n"
    (problem,) = parse_text(text).problems
    assert "nests deeper than 64 levels" in problem.message


def test_non_string_keys_are_reported_as_unknown() -> None:
    result = parse_text(STARTER + "1: one\n")
    (problem,) = result.problems
    assert problem.message.startswith("unknown key '1'")
    assert (problem.line, problem.col) == (len(STARTER.splitlines()) + 1, 1)


def test_union_errors_are_merged_into_one_message() -> None:
    text = STARTER.replace(
        "    kind: strictly_necessary\n", "    kind: strictly_necessary\n    duration: forever\n"
    )
    (problem,) = parse_text(text).problems
    assert problem.message == (
        "bad duration 'forever': write a number and a unit, e.g. 30min, 48h, 30d, 18m or 3y "
        "(or 'session')"
    )
    assert problem.loc == ("cookies", 0, "duration")
