"""Publishing commands: ``integritet render`` (the policy text) and ``integritet diff``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from integritet.cli.app import app
from integritet.cli.common import Format, PolicyOption, load_policy, out, print_json
from integritet.errors import ConfigError
from integritet.manifest import load_manifest
from integritet.manifest.diff import PolicyDiff, diff
from integritet.manifest.render import render as render_policy


class Language(StrEnum):
    sv = "sv"
    en = "en"


class DocFormat(StrEnum):
    md = "md"
    html = "html"


@app.command()
def render(
    policy_arg: Annotated[
        Path | None, typer.Argument(metavar="POLICY", help="The manifest (default: --policy).")
    ] = None,
    lang: Annotated[Language, typer.Option("--lang", "-l", help="Language.")] = Language.sv,
    fmt: Annotated[DocFormat, typer.Option("--format", "-f", help="Output format.")] = (
        DocFormat.md
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    policy: PolicyOption = None,
) -> None:
    """Write the privacy policy for people to read, generated from the manifest."""
    manifest = load_policy(policy_arg or policy)
    text = render_policy(manifest, lang.value, fmt.value)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {output}: {exc.strerror}") from None
    out.print(f"wrote {output} ({lang.value}, {fmt.value})")


def _text_report(result: PolicyDiff) -> None:
    material = [c for c in result.changes if c.material]
    head = f"policy {result.old_version} -> {result.new_version}: "
    if not result.changes:
        out.print(head + "no changes")
        return
    out.print(head + f"{len(result.changes)} change(s), {len(material)} material")
    for change in result.changes:
        mark = "MATERIAL" if change.material else "minor   "
        detail = ""
        if change.old or change.new:
            detail = f" [{change.old or '-'} -> {change.new or '-'}]"
        out.print(f"  {mark} {change}{detail}", markup=False)
    if result.affected_categories:
        out.print("affected categories: " + ", ".join(sorted(result.affected_categories)))
    if result.affected_consent_purposes:
        cps = ", ".join(sorted(result.affected_consent_purposes))
        out.print("consent to ask again: " + cps)


@app.command("diff")
def diff_command(
    old: Annotated[Path, typer.Argument(help="The earlier manifest.")],
    new: Annotated[Path, typer.Argument(help="The new manifest.")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """Show what changed between two manifests and whether each change is material."""
    result = diff(load_manifest(old), load_manifest(new))
    if fmt == Format.json:
        print_json(result.to_dict())
    else:
        _text_report(result)
