"""Audit commands: ``audit verify``, ``audit checkpoint``, ``audit export``.

The database comes from the settings (``INTEGRITET_DATABASE_URL`` or the SQLite file in
``INTEGRITET_HOME``); a missing schema is created first. The signing key is
``audit-signing.key`` in ``INTEGRITET_HOME``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine, inspect

from integritet.audit import SIGNING_KEY_NAME, AuditLog, VerifyResult
from integritet.cli.app import app
from integritet.cli.common import Format, err, out, print_json
from integritet.db import make_engine, upgrade
from integritet.settings import get_settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def _notify(message: str) -> None:
    err.print(message)


def _engine() -> Engine:
    settings = get_settings()
    if settings.database_url is None:
        settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    if not inspect(engine).has_table("audit_events"):
        upgrade(engine)
        _notify(f"created the database schema in {engine.url.render_as_string(hide_password=True)}")
    return engine


def _log(engine: Engine) -> AuditLog:
    return AuditLog(engine, get_settings().home / SIGNING_KEY_NAME, notify=_notify)


def _verify_with_progress(log: AuditLog, checkpoint: Path | None) -> VerifyResult:
    total = log.count()
    columns = (
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=total < 100_000) as bar:
        task = bar.add_task("verify", total=total)
        return log.verify(checkpoint, progress=lambda n: bar.advance(task, n))


@audit_app.command("verify")
def verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            "-c",
            help="An exported checkpoint file: catches truncation even if the database's "
            "checkpoints were deleted too.",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
) -> None:
    """Check the whole chain; exit 1 and name the first bad position when it is broken."""
    engine = _engine()
    try:
        result = _verify_with_progress(_log(engine), checkpoint)
    finally:
        engine.dispose()
    if fmt is Format.json:
        print_json(result.__dict__)
    elif result.ok:
        out.print(
            f"audit chain ok: {result.rows} rows, head {result.last_hash[:16]}…, "
            f"{result.checkpoints} signed checkpoint(s) match"
        )
    else:
        err.print(f"audit chain broken at position {result.bad_position}: {result.reason}")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Also write the signed checkpoint to this file."),
    ] = None,
) -> None:
    """Sign the current head of the chain now (and export it, to keep outside the database)."""
    engine = _engine()
    try:
        cp = _log(engine).checkpoint(output)
    finally:
        engine.dispose()
    if cp is None:
        out.print("the audit log is empty: nothing to sign")
        return
    out.print(f"signed checkpoint at position {cp.position}, hash {cp.hash}")
    if output is not None:
        out.print(f"written to {output}")


@audit_app.command("export")
def export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="jsonl or csv.")
    ] = ExportFormat.jsonl,
    customer: Annotated[
        str | None,
        typer.Option("--customer", help="Only this customer organisation's events (its own log)."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            help="Only events at or after this date/time (UTC).",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"],
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export audit events as JSON lines or CSV (J16: a customer retrieves its own events)."""
    engine = _engine()
    log = _log(engine)
    try:
        if output is None:
            count = log.export(sys.stdout, fmt.value, customer=customer, since=since)
        else:
            with output.open("w", encoding="utf-8", newline="") as fh:
                count = log.export(fh, fmt.value, customer=customer, since=since)
            err.print(f"exported {count} event(s) to {output}")
    finally:
        engine.dispose()
