"""``integritet check`` through the real entry point: the broken corpus, examples, formats."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from integritet.manifest.lint import RULES
from integritet.manifest.load import MAX_MANIFEST_BYTES

BROKEN = Path(__file__).parent / "broken"
EXPECTED: dict[str, list[Any]] = json.loads((BROKEN / "expected.json").read_text())
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/policy.yaml"))


def test_corpus_is_large_and_fully_described() -> None:
    files = sorted(p.name for p in BROKEN.glob("*.yaml"))
    assert len(files) >= 30
    assert files == sorted(EXPECTED), "every broken manifest needs an expected.json entry"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_manifest_fails_precisely(name: str, run_cli: Any) -> None:
    line, col, fragment = EXPECTED[name]
    path = BROKEN / name
    result = run_cli("check", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    located = [ln for ln in result.stdout.splitlines() if ln.startswith(f"{path}:{line}:{col}: ")]
    assert located, result.stdout
    assert any(fragment in ln for ln in located), result.stdout


@pytest.mark.parametrize(
    "name", ["missing_storage.yaml", "bad_channel.yaml", "tab_indentation.yaml"]
)
def test_broken_manifest_json_lists_the_problem(name: str, run_cli: Any) -> None:
    line, col, fragment = EXPECTED[name]
    result = run_cli("check", str(BROKEN / name), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["ok"] is False
    (first,) = [f for f in report["findings"] if (f["line"], f["col"]) == (line, col)]
    assert first["rule"] == "manifest-invalid"
    assert first["severity"] == "error"
    assert fragment.split(" (at ")[0] in first["message"]


def test_many_problems_are_reported_at_once(tmp_path: Path, run_cli: Any) -> None:
    text = (BROKEN / "bad_legal_basis.yaml").read_text()
    text = text.replace("duration: 2y", "duration: forever").replace("channels: [email]", "x: 1")
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    result = run_cli("check", str(path))
    assert result.exit_code == 1
    located = re.compile(rf"^{re.escape(str(path))}:(\d+):\d+: ")
    lines = [m.group(1) for m in map(located.match, result.stdout.splitlines()) if m]
    assert lines == ["22", "33", "47"]
    assert result.stdout.splitlines()[-1] == f"{path}: 3 errors; the manifest is not valid"


def test_file_over_the_size_limit_is_refused_fast(tmp_path: Path, run_cli: Any) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w") as f:
        line = "key_with_some_length: value value value value value value\n"
        f.write(line * (10 * 1024 * 1024 // len(line) + 1))
    assert path.stat().st_size > 10 * 1024 * 1024 > MAX_MANIFEST_BYTES
    started = time.perf_counter()
    result = run_cli("check", str(path))
    assert time.perf_counter() - started < 2
    assert result.exit_code == 1
    assert f"{path}: file too large" in result.stdout


def test_directory_and_missing_file(tmp_path: Path, run_cli: Any) -> None:
    result = run_cli("check", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path}: is a directory" in result.stdout
    missing = tmp_path / "nope.yaml"
    result = run_cli("check", str(missing))
    assert result.exit_code == 1
    assert f"{missing}: no such file" in result.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_example_passes_check(path: Path, run_cli: Any) -> None:
    result = run_cli("check", str(path))
    assert result.exit_code == 0, result.stdout
    assert " error " not in result.stdout
    assert result.stdout.splitlines()[-1].startswith(f"{path}: ok: 0 errors")


def test_lint_error_exits_1_and_warnings_exit_0(tmp_path: Path, run_cli: Any) -> None:
    base = (BROKEN.parent / "broken" / "duplicate_id.yaml").read_text()
    valid = base.replace(
        "  - id: service\n    name: {sv: Nyhetsbrev",
        "  - id: newsletter\n    name: {sv: Nyhetsbrev",
    )
    valid = valid.replace("purpose: service\n    channels", "purpose: newsletter\n    channels")
    path = tmp_path / "policy.yaml"
    path.write_text(valid.replace('  org_number: "556000-0000"\n', ""))
    warned = run_cli("check", str(path))
    assert warned.exit_code == 0, warned.stdout
    assert f"{path}:3:3: warning controller-org-number: " in warned.stdout
    path.write_text(valid.replace("    legal_basis: contract\n", ""))
    failed = run_cli("check", str(path))
    assert failed.exit_code == 1
    line = next(ln for ln in failed.stdout.splitlines() if "purpose-no-legal-basis" in ln)
    assert line.startswith(f"{path}:20:5: error purpose-no-legal-basis: purpose 'service' has no")
    assert "[GDPR Art. 6(1)]" in line and "(hint: add legal_basis" in line


def _lint_failing(tmp_path: Path) -> Path:
    text = (BROKEN / "duplicate_id.yaml").read_text()
    text = text.replace(
        "  - id: service\n    name: {sv: Nyhetsbrev",
        "  - id: newsletter\n    name: {sv: Nyhetsbrev",
    )
    text = text.replace("purpose: service\n    channels", "purpose: newsletter\n    channels")
    text = text.replace("country: SE}", "country: US}")
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_sarif_output_is_valid_2_1_0(tmp_path: Path, run_cli: Any) -> None:
    path = _lint_failing(tmp_path)
    result = run_cli("check", str(path), "--format", "sarif")
    assert result.exit_code == 1
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == set(RULES) | {"manifest-invalid"}
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    (result_,) = [r for r in run["results"] if r["ruleId"] == "storage-outside-eea"]
    assert result_["level"] == "error"
    assert rules[result_["ruleIndex"]]["id"] == "storage-outside-eea"
    physical = result_["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == path.as_posix()
    assert physical["region"] == {"startLine": 43, "startColumn": 46}
    levels = {r["level"] for r in run["results"]}
    assert levels <= {"error", "warning", "note"}


def test_json_output_has_findings_and_summary(tmp_path: Path, run_cli: Any) -> None:
    result = run_cli("check", str(_lint_failing(tmp_path)), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["ok"] is False
    assert report["summary"]["error"] == sum(
        1 for f in report["findings"] if f["severity"] == "error"
    )
    finding = next(f for f in report["findings"] if f["rule"] == "storage-outside-eea")
    assert finding["path"] == "storage.locations[0].country"
    assert finding["reference"].startswith("GDPR Art. 44")


def test_policy_defaults_to_option_env_and_cwd(
    tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = BROKEN / "empty.yaml"
    assert run_cli("check", "--policy", str(broken)).exit_code == 1
    monkeypatch.setenv("INTEGRITET_POLICY", str(broken))
    assert f"{broken}:1:1: the file is empty" in run_cli("check").stdout
    monkeypatch.delenv("INTEGRITET_POLICY")
    monkeypatch.chdir(tmp_path)
    assert run_cli("init").exit_code == 0
    result = run_cli("check")
    assert result.exit_code == 0
    assert result.stdout.startswith("policy.yaml: ok: 0 errors, 0 warnings, 0 info")


def test_installed_entry_point_reports_without_traceback() -> None:
    executable = Path(sys.executable).parent / "integritet"
    env = {k: v for k, v in os.environ.items() if k != "INTEGRITET_DEBUG"}
    done = subprocess.run(
        [str(executable), "check", str(BROKEN / "binary.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"{BROKEN / 'binary.yaml'}:3:1: binary file" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
