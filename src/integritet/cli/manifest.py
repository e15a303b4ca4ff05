"""Manifest commands: check, render, diff, init."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from integritet.cli.app import app
from integritet.cli.common import out
from integritet.manifest import load_manifest


@app.command()
def check(
    policy: Annotated[Path, typer.Argument(help="The manifest to check.")] = Path("policy.yaml"),
) -> None:
    """Validate the manifest and lint it against GDPR and Swedish law."""
    load_manifest(policy)
    out.print(f"{policy}: ok")
