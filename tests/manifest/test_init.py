"""``integritet init``: a commented starter manifest that passes check, never overwritten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from integritet.manifest.init import starter_text, write_starter
from integritet.manifest.lint import lint
from integritet.manifest.load import read_manifest


def test_init_writes_a_manifest_that_passes_check(tmp_path: Path, run_cli: Any) -> None:
    target = tmp_path / "service"
    result = run_cli("init", str(target))
    assert result.exit_code == 0
    written = target / "policy.yaml"
    assert f"wrote {written}" in result.stdout
    assert written.read_text(encoding="utf-8") == starter_text()
    checked = run_cli("check", str(written))
    assert checked.exit_code == 0
    assert checked.stdout.strip() == f"{written}: ok: 0 errors, 0 warnings, 0 info"


def test_starter_is_commented_for_every_section() -> None:
    text = starter_text()
    sections = [ln.split(":")[0] for ln in text.splitlines() if ln and ln[0].isalpha()]
    lines = text.splitlines()
    for name in sections:
        index = lines.index(next(ln for ln in lines if ln.startswith(f"{name}:")))
        assert lines[index - 1].startswith("#") or name == "manifest_version", name


def test_starter_uses_no_lint_exemptions(tmp_path: Path) -> None:
    path = write_starter(tmp_path)
    result = read_manifest(path)
    assert result.problems == []
    assert result.manifest is not None
    assert lint(result.manifest) == []


def test_init_refuses_to_overwrite(tmp_path: Path, run_cli: Any) -> None:
    existing = tmp_path / "policy.yaml"
    existing.write_text("mine\n")
    result = run_cli("init", str(tmp_path))
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == f"error: {existing} already exists; pass --force to overwrite it"
    )
    assert existing.read_text() == "mine\n"
    forced = run_cli("init", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert existing.read_text(encoding="utf-8") == starter_text()


def test_init_defaults_to_the_current_directory(
    tmp_path: Path, run_cli: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("init").exit_code == 0
    assert (tmp_path / "policy.yaml").is_file()


def test_init_into_a_file_is_an_error(tmp_path: Path, run_cli: Any) -> None:
    a_file = tmp_path / "notadir"
    a_file.write_text("x")
    result = run_cli("init", str(a_file))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {a_file} is a file, not a directory"
    assert "Traceback" not in result.output
