"""YAML -> :class:`Manifest`, with every problem reported as ``file:line:col: message``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from integritet.errors import ManifestError
from integritet.manifest.model import Manifest


def load_manifest(path: Path) -> Manifest:
    """Load and validate ``path``; raise :class:`ManifestError` listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError([f"{path}: no such file"]) from None
    except UnicodeDecodeError:
        raise ManifestError([f"{path}: not a UTF-8 text file"]) from None
    except OSError as exc:
        raise ManifestError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_manifest(text, str(path))


def parse_manifest(text: str, name: str = "policy.yaml") -> Manifest:
    yaml = YAML(typ="rt")
    try:
        data: Any = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise ManifestError([f"{where}: invalid YAML: {exc.problem}"]) from None
    except YAMLError as exc:
        raise ManifestError([f"{name}: invalid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ManifestError([f"{name}:1:1: the manifest must be a mapping of keys"])
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(
            [f"{name}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        ) from None
    problems = manifest.reference_problems()
    if problems:
        raise ManifestError([f"{name}: {'.'.join(map(str, loc))}: {msg}" for loc, msg in problems])
    return manifest
