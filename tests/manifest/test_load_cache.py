"""read_manifest remembers parses of unchanged text: copies out, edits re-parsed."""

from __future__ import annotations

import shutil
from pathlib import Path

from integritet.manifest import load_manifest
from integritet.manifest.load import read_manifest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml"


def test_each_load_is_an_independent_copy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    shutil.copyfile(EXAMPLE, path)
    first = load_manifest(path)
    first.recipients.clear()
    second = load_manifest(path)
    assert [r.id for r in second.recipients] == ["installer", "visma", "paypal", "mailchimp"]
    assert second is not first


def test_an_edited_file_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    assert load_manifest(path).policy.version == "2024.1"
    path.write_text(text.replace('version: "2024.1"', 'version: "2024.9"', 1), encoding="utf-8")
    assert load_manifest(path).policy.version == "2024.9"
    path.write_text(text.replace("controller:", "controler:", 1), encoding="utf-8")
    broken = read_manifest(path)
    assert broken.manifest is None and any("controler" in str(p) for p in broken.problems)


def test_problems_name_the_file_they_were_read_from(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("controller:", "controler:", 1)
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(text, encoding="utf-8")
    problems = [str(read_manifest(tmp_path / n).problems[0]) for n in ("a.yaml", "b.yaml")]
    assert "a.yaml" in problems[0] and "b.yaml" in problems[1]
