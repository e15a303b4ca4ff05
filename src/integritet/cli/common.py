"""Helpers shared by the CLI modules: options, policy loading, output."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from integritet.manifest import Manifest, load_manifest
from integritet.settings import get_settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy", "-p", help="The manifest (default: $INTEGRITET_POLICY or ./policy.yaml)."
    ),
]


class Format(StrEnum):
    text = "text"
    json = "json"


def policy_path(policy: Path | None) -> Path:
    return policy if policy is not None else get_settings().policy


def load_policy(policy: Path | None) -> Manifest:
    """Load the manifest named by ``--policy`` or the settings (raises ManifestError)."""
    return load_manifest(policy_path(policy))


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))
