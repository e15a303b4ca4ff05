"""docs/manifest.md documents every key of every model and every lint rule."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from integritet.manifest.legal import KNOWN_LAWS
from integritet.manifest.lint import RULES
from integritet.manifest.model import Manifest
from integritet.manifest.report import INVALID

DOC = (Path(__file__).resolve().parents[2] / "docs" / "manifest.md").read_text(encoding="utf-8")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def reachable_models() -> list[type[BaseModel]]:
    """Every pydantic model reachable from :class:`Manifest` through field annotations."""
    order: list[type[BaseModel]] = []
    queue: list[type[BaseModel]] = [Manifest]
    while queue:
        model = queue.pop(0)
        if model in order:
            continue
        order.append(model)
        for field in model.model_fields.values():
            queue.extend(_models_in(field.annotation))
    return order


def section(heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = DOC.find(f"\n{heading}\n")
    assert start >= 0, f"docs/manifest.md has no heading {heading!r}"
    rest = DOC[start + len(heading) + 2 :]
    stop = re.search(rf"^#{{1,{len(level)}}} ", rest, flags=re.MULTILINE)
    return rest[: stop.start()] if stop else rest


MODELS = reachable_models()


def test_walk_finds_nested_models() -> None:
    names = {m.__name__ for m in MODELS}
    assert {"Manifest", "Text", "DatasetColumn", "DatasetReference", "RecipientErasure"} <= names
    assert len(MODELS) >= 30


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    text = section(f"### `{model.__name__}`")
    rows = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.MULTILINE))
    missing = sorted(set(model.model_fields) - rows)
    assert not missing, f"docs/manifest.md, section {model.__name__}: document {missing}"
    stale = sorted(rows - set(model.model_fields))
    assert not stale, f"docs/manifest.md, section {model.__name__}: no such keys {stale}"


def test_every_lint_rule_is_documented() -> None:
    text = section("## Lint rules")
    row = r"^\| `([a-z0-9-]+)` \| (?:error|warning|info) \|"
    documented = set(re.findall(row, text, flags=re.MULTILINE))
    assert set(RULES) | {INVALID} == documented


def test_every_known_law_is_documented() -> None:
    text = section("### Known laws for legal holds")
    for law_id, law in KNOWN_LAWS.items():
        assert f"| `{law_id}` | {law.longest.words()} |" in text


def test_yaml_examples_parse() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.DOTALL)
    assert len(blocks) >= 15
    for block in blocks:
        assert isinstance(YAML(typ="safe").load(block), dict), block


def test_section_helper_stops_at_next_heading() -> None:
    text = section("### `Text`")
    assert "| `sv` |" in text and "### " not in text
