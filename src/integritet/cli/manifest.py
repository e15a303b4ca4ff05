"""Manifest commands: ``check`` and ``init`` (render and diff live in cli/publish.py)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from integritet.cli.app import app
from integritet.cli.common import PolicyOption, policy_path
from integritet.manifest.init import write_starter
from integritet.manifest.report import check_file, to_json, to_sarif, to_text


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


@app.command()
def check(
    policy_arg: Annotated[
        Path | None,
        typer.Argument(
            metavar="POLICY",
            help="The manifest to check (default: --policy, $INTEGRITET_POLICY or ./policy.yaml).",
        ),
    ] = None,
    policy: PolicyOption = None,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="Output format.")
    ] = CheckFormat.text,
) -> None:
    """Validate the manifest and lint it against GDPR and Swedish law.

    Exit 0 when there are no errors (warnings and notes allowed), 1 otherwise.
    """
    from integritet import __version__

    report = check_file(policy_arg if policy_arg is not None else policy_path(policy))
    if fmt == CheckFormat.json:
        typer.echo(json.dumps(to_json(report), ensure_ascii=False, indent=2))
    elif fmt == CheckFormat.sarif:
        typer.echo(json.dumps(to_sarif(report, __version__), ensure_ascii=False, indent=2))
    else:
        for line in to_text(report):
            typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Where to write policy.yaml.")
    ] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter policy.yaml that passes `integritet check`."""
    target = write_starter(directory, force=force)
    typer.echo(f"wrote {target}; edit it, then run: integritet check {target}")
