"""Retention commands: ``retention run`` (also for cron) and ``retention event``.

    integritet retention run --policy policy.yaml --dry-run --now 2029-01-16 --format json
    integritet retention event --policy policy.yaml --email anna@example.se last_login

Warnings are emailed through :mod:`integritet.mail` when it is installed and configured
(``INTEGRITET_SMTP_*``); without it they are counted, not sent.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from integritet.access import Actor
from integritet.cli.app import app
from integritet.cli.common import (
    Format,
    PolicyOption,
    err,
    load_policy,
    out,
    policy_path,
    print_json,
)
from integritet.clock import Clock, FixedClock, SystemClock
from integritet.errors import ConfigError, NotFound
from integritet.manifest.model import Anchor, Manifest
from integritet.retention import RetentionReport, run
from integritet.retention.sweep import purpose_for
from integritet.settings import Settings, get_settings
from integritet.vault import open_vault

retention_app = typer.Typer(
    help="Retention: delete what the policy says must go.", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")

CLI_ACTOR = Actor.system("cli")
SUBJECT_EVENTS = {a.value for a in Anchor} - {"collected", "fiscal_year_end", "custom"}


def parse_when(value: str) -> datetime:
    """An ISO date or date-time (UTC when no offset is given)."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"bad date {value!r}: write e.g. 2029-01-16 or 2029-01-16T09:00"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _mailer(settings: Settings) -> Any:
    try:
        module = importlib.import_module("integritet.mail")
    except ImportError:
        return None
    return module.Mailer(settings)


def _notify(message: str) -> None:
    err.print(message)


@retention_app.command("run")
def retention_run(
    policy: PolicyOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only; change nothing.")
    ] = False,
    now: Annotated[str | None, typer.Option("--now", help="Act as if it were this date.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Delete, anonymise or shred what is due; warn before deleting; sweep log files."""
    manifest = load_policy(policy)
    settings = get_settings()
    clock: Clock = FixedClock(parse_when(now)) if now else SystemClock()
    vault = open_vault(settings, manifest, clock, notify=_notify)
    base = policy_path(policy).resolve().parent
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed} checked"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=fmt == Format.json or not err.is_terminal,
        ) as bar:
            task = bar.add_task("retention", total=None)

            def step(stage: str, n: int) -> None:
                bar.update(task, advance=n, description=stage)

            report = run(
                manifest,
                vault,
                clock,
                dry_run=dry_run,
                mailer=None if dry_run else _mailer(settings),
                log_base=base,
                progress=step,
            )
    finally:
        vault.engine.dispose()
    if fmt == Format.json:
        print_json(report.to_dict())
    else:
        show(report)


def show(report: RetentionReport) -> None:
    """The report as tables: rules, warnings, log files, datasets."""
    mode = "dry run: nothing changed" if report.dry_run else "done"
    out.print(f"retention at {report.now:%Y-%m-%d %H:%M} UTC ({mode})")
    table = Table("rule", "category", "action", "due", "held", "restricted", "oldest", "done")
    for r in report.rules:
        oldest = f"{r.oldest:%Y-%m-%d}" if r.oldest else "-"
        table.add_row(
            r.rule, r.category, r.action, str(r.due), str(r.held), str(r.restricted), oldest,
            str(r.done),
        )  # fmt: skip
    out.print(table)
    verb = "would be" if report.dry_run else "were"
    out.print(f"subjects erased entirely: {report.erased_subjects} {verb}")
    out.print(f"expired legal holds destroyed: {report.purged_holds}")
    for w in report.warnings:
        if w.due or w.sent:
            out.print(
                f"warnings for {w.rule}: {w.due} due, {w.sent} sent, "
                f"{w.no_address} without email, {w.failed} failed"
            )
    for source in report.logs:
        out.print(
            f"log {source.source}: {len(source.files)} files, {source.total('removed')} lines "
            f"removed, {source.total('truncated')} IPs truncated, "
            f"{source.total('unparsed')} lines without a readable time (kept)"
        )
    for ds in report.datasets:
        if ds.error:
            out.print(f"dataset {ds.dataset}: skipped ({ds.error})")
        else:
            out.print(
                f"dataset {ds.dataset}.{ds.table} ({ds.rule}): {ds.due} rows due, "
                f"{ds.deleted} deleted, {ds.nulled} cleared, {ds.held} held"
            )


def _check_event(manifest: Manifest, event: str) -> None:
    custom = {r.event for r in manifest.retention if r.event}
    if event not in SUBJECT_EVENTS | custom:
        known = ", ".join(sorted(SUBJECT_EVENTS | custom))
        raise ConfigError(f"unknown event {event!r}; use one of: {known}")


@retention_app.command("event")
def retention_event(
    event: Annotated[str, typer.Argument(help="last_login, contract_end, deregistered...")],
    email: Annotated[str, typer.Option("--email", help="The subject's email address.")],
    policy: PolicyOption = None,
    at: Annotated[str | None, typer.Option("--at", help="When (default: now).")] = None,
) -> None:
    """Record a retention anchor for a subject (from cron or the application)."""
    manifest = load_policy(policy)
    _check_event(manifest, event)
    when = parse_when(at) if at else datetime.now(UTC)
    vault = open_vault(get_settings(), manifest, notify=_notify)
    try:
        purpose = purpose_for(manifest, [c.id for c in manifest.categories])
        subject = vault.find_subject(CLI_ACTOR, purpose, "email", email)
        if subject is None:
            raise NotFound("no subject with that email address")
        vault.record_event(CLI_ACTOR, subject, event, when)
    finally:
        vault.engine.dispose()
    out.print(f"recorded {event} at {when:%Y-%m-%d %H:%M} UTC for subject {subject}")
