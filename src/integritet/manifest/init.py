"""``integritet init``: write a commented starter manifest that passes ``check``."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from integritet.errors import ConfigError, OutputExists

STARTER_NAME = "policy.yaml"


def starter_text() -> str:
    """The commented starter manifest shipped with the package."""
    return files("integritet.manifest").joinpath("starter.yaml").read_text(encoding="utf-8")


def write_starter(directory: Path, *, force: bool = False) -> Path:
    """Write ``directory/policy.yaml``; refuse to overwrite unless ``force``."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file, not a directory")
    target = directory / STARTER_NAME
    if target.exists() and not force:
        raise OutputExists(str(target))
    if target.is_dir():
        raise ConfigError(f"{target} is a directory")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(starter_text(), encoding="utf-8")
    return target
