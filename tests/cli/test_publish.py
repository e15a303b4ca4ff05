"""`integritet render` and `integritet diff` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from integritet.cli import app

LOGGAMERA = Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml"
runner = CliRunner()


def test_render_markdown_to_stdout() -> None:
    result = runner.invoke(app, ["render", str(LOGGAMERA), "--lang", "sv"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Integritetspolicy för Loggamera")


def test_render_html_to_file(tmp_path: Path) -> None:
    target = tmp_path / "policy.html"
    result = runner.invoke(
        app, ["render", "--policy", str(LOGGAMERA), "--lang", "en", "--format", "html", "-o",
              str(target)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '<html lang="en">' in target.read_text(encoding="utf-8")


def test_render_uses_the_policy_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTEGRITET_POLICY", str(LOGGAMERA))
    result = runner.invoke(app, ["render", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "# Privacy policy for Loggamera" in result.output


def test_render_rejects_an_unknown_language() -> None:
    result = runner.invoke(app, ["render", str(LOGGAMERA), "--lang", "de"])
    assert result.exit_code == 2


def _with_new_recipient(tmp_path: Path) -> Path:
    text = LOGGAMERA.read_text(encoding="utf-8").replace(
        "recipients:\n",
        "recipients:\n  - {id: crm, name: CRM, role: processor, categories: [contact], "
        "country: US, transfer: {mechanism: scc}, erasure: {method: manual}}\n",
        1,
    )
    new = tmp_path / "policy.yaml"
    new.write_text(text, encoding="utf-8")
    return new


def test_diff_text(tmp_path: Path) -> None:
    result = runner.invoke(app, ["diff", str(LOGGAMERA), str(_with_new_recipient(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "1 material" in result.output
    assert "MATERIAL recipients crm added" in result.output
    assert "affected categories: contact" in result.output


def test_diff_json(tmp_path: Path) -> None:
    new = _with_new_recipient(tmp_path)
    result = runner.invoke(app, ["diff", str(LOGGAMERA), str(new), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["material"] is True
    assert [c["item"] for c in data["changes"]] == ["crm"]


def test_diff_of_identical_files() -> None:
    result = runner.invoke(app, ["diff", str(LOGGAMERA), str(LOGGAMERA)])
    assert result.exit_code == 0
    assert "no changes" in result.output


def test_diff_with_a_missing_file_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["diff", str(LOGGAMERA), str(tmp_path / "nope.yaml")])
    assert result.exit_code != 0
