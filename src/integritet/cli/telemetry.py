"""Telemetry commands: register customers, sites and machines; ingest, show, retention, notify.

    integritet telemetry customers add --policy policy.yaml "Acme Kaffe AB"
    integritet telemetry sites add --policy policy.yaml --customer CID "Kontoret Solna"
    integritet telemetry machines add --policy policy.yaml --customer CID --site SID cm-0001
    integritet telemetry ingest --policy policy.yaml readings.jsonl
    integritet telemetry show --policy policy.yaml --machine cm-0001 --purpose service
    integritet telemetry retention --policy policy.yaml --dry-run --now 2027-01-01
    integritet telemetry notify --policy policy.yaml --machine cm-0001 --kind status "Larm"

The CLI acts as the operator (``system:cli``); reads still name a purpose, which must be one
of ``telemetry.purposes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from integritet.access import Actor
from integritet.cli.app import app
from integritet.cli.common import Format, PolicyOption, err, load_policy, out, print_json
from integritet.cli.retention import parse_when
from integritet.clock import FixedClock, SystemClock
from integritet.consent.wiring import unsubscribe_links
from integritet.errors import TelemetryError
from integritet.settings import get_settings
from integritet.telemetry import IngestResult, Telemetry, open_telemetry
from integritet.vault import Vault, open_vault

telemetry_app = typer.Typer(
    help="Connected machines: machine data kept apart from personal data.", no_args_is_help=True
)
customers_app = typer.Typer(help="Customer organisations that own machines.", no_args_is_help=True)
sites_app = typer.Typer(help="Sites (facilities) of a customer.", no_args_is_help=True)
machines_app = typer.Typer(help="Machines that send telemetry.", no_args_is_help=True)
app.add_typer(telemetry_app, name="telemetry")
telemetry_app.add_typer(customers_app, name="customers")
telemetry_app.add_typer(sites_app, name="sites")
telemetry_app.add_typer(machines_app, name="machines")

CLI_ACTOR = Actor.system("cli")
FormatOption = Annotated[Format, typer.Option("--format", help="text or json.")]
CustomerOption = Annotated[str, typer.Option("--customer", help="The customer id.")]


def _notify(message: str) -> None:
    err.print(message)


def _open(policy: Path | None, now: str | None = None) -> Telemetry:
    clock = FixedClock(parse_when(now)) if now else SystemClock()
    return open_telemetry(get_settings(), load_policy(policy), clock, notify=_notify)


def _vault(policy: Path | None) -> Vault:
    return open_vault(get_settings(), load_policy(policy), notify=_notify)


@customers_app.command("add")
def customers_add(
    name: Annotated[str, typer.Argument(help="The organisation's name.")],
    policy: PolicyOption = None,
    org_number: Annotated[
        str | None, typer.Option("--org-number", help="Kept only as a blind index.")
    ] = None,
) -> None:
    """Register a customer organisation; prints its id."""
    vault = _vault(policy)
    out.print(vault.create_customer(CLI_ACTOR, name, org_number))


@sites_app.command("add")
def sites_add(
    name: Annotated[str, typer.Argument(help="A label for the facility (not an address).")],
    customer: CustomerOption,
    policy: PolicyOption = None,
) -> None:
    """Register a site (facility) of a customer; prints its id."""
    out.print(_open(policy).add_site(CLI_ACTOR, customer, name))


@machines_app.command("add")
def machines_add(
    machine: Annotated[str, typer.Argument(help="The machine id the device sends.")],
    customer: CustomerOption,
    policy: PolicyOption = None,
    site: Annotated[str | None, typer.Option("--site", help="The site id.")] = None,
    model: Annotated[str | None, typer.Option("--model")] = None,
    serial: Annotated[str | None, typer.Option("--serial")] = None,
) -> None:
    """Register a machine of a customer (and site)."""
    _open(policy).add_machine(CLI_ACTOR, machine, customer, site=site, model=model, serial=serial)
    out.print(f"registered machine {machine}")


@machines_app.command("list")
def machines_list(
    policy: PolicyOption = None,
    customer: Annotated[str | None, typer.Option("--customer")] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """The registered machines (no readings)."""
    machines = _open(policy).machines(customer)
    if fmt == Format.json:
        print_json([m.to_dict() for m in machines])
        return
    table = Table("machine", "customer", "site", "model", "serial")
    for m in machines:
        table.add_row(m.id, m.customer, m.site or "", m.model or "", m.serial or "")
    out.print(table)


@contextmanager
def _input(path: Path) -> Iterator[TextIO]:
    if str(path) == "-":
        yield typer.get_text_stream("stdin")
        return
    try:
        handle = path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TelemetryError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    with handle:
        yield handle


def _count_lines(path: Path) -> int | None:
    if str(path) == "-":
        return None
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


@telemetry_app.command("ingest")
def ingest(
    file: Annotated[
        Path, typer.Argument(help="JSON lines, each with machine and at ('-': stdin).")
    ],
    policy: PolicyOption = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Records per insert.")] = 5000,
    fmt: FormatOption = Format.text,
) -> None:
    """Guard and store telemetry; exits 1 when a line was refused or not understood."""
    telemetry = _open(policy)
    with _input(file) as lines:
        total = _count_lines(file)
        bar = Progress(
            TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, disable=not err.is_terminal, transient=True,
        )  # fmt: skip
        with bar:
            task = bar.add_task("ingest", total=total)
            result = telemetry.ingest_lines(
                CLI_ACTOR, lines, batch_size=batch, progress=lambda n: bar.advance(task, n)
            )
    if fmt == Format.json:
        print_json(result.to_dict())
    else:
        _print_ingest(result)
    if not result.ok:
        raise typer.Exit(1)


def _print_ingest(result: IngestResult) -> None:
    for o in result.outcomes:
        if o.error:
            out.print(f"line {o.index}: error: {o.error}")
        for d in o.decisions:
            out.print(f"line {o.index}: {d.field} {d.action}: {d.reason}")
    out.print(
        f"{result.records} records: {result.stored} stored, {result.partial} stored in part, "
        f"{result.refused} refused, {result.errors} errors; {result.readings} values stored"
    )


@telemetry_app.command("show")
def show(
    machine: Annotated[str, typer.Option("--machine", help="The machine id.")],
    policy: PolicyOption = None,
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="Why (default: the first telemetry purpose).")
    ] = None,
    aggregates: Annotated[
        str | None, typer.Option("--aggregates", help="Show 'hour' or 'day' statistics instead.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    fmt: FormatOption = Format.text,
) -> None:
    """The newest readings (or statistics) of a machine."""
    telemetry = _open(policy)
    why = purpose or telemetry.config.purposes[0]
    if aggregates is not None:
        stats = telemetry.aggregates(CLI_ACTOR, machine, why, period=aggregates, limit=limit)
        if fmt == Format.json:
            print_json([a.to_dict() for a in stats])
            return
        table = Table("start", "name", "count", "min", "max", "avg")
        for a in stats:
            table.add_row(a.start.isoformat(), a.name, str(a.count), _num(a.min), _num(a.max),
                          _num(a.avg))  # fmt: skip
        out.print(table)
        return
    readings = telemetry.readings(CLI_ACTOR, machine, why, limit=limit)
    if fmt == Format.json:
        print_json([r.to_dict() for r in readings])
        return
    table = Table("at", "kind", "name", "value", "source")
    for r in readings:
        table.add_row(r.at.isoformat(), r.kind, r.name, str(r.value), r.source)
    out.print(table)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@telemetry_app.command("retention")
def retention(
    policy: PolicyOption = None,
    now: Annotated[str | None, typer.Option("--now", help="Act as if it were this date.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; change nothing.")] = False,
    fmt: FormatOption = Format.text,
) -> None:
    """Fold expired readings into hourly/daily statistics, delete them and old statistics."""
    from integritet.telemetry.aggregate import run_retention

    telemetry = _open(policy, now)
    bar = Progress(
        TextColumn("aggregating"), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=not err.is_terminal or dry_run, transient=True,
    )  # fmt: skip
    with bar:
        task = bar.add_task("retention", total=None)
        result = run_retention(telemetry, dry_run=dry_run, progress=lambda n: bar.advance(task, n))
    if fmt == Format.json:
        print_json(result.to_dict())
        return
    verb = "due" if dry_run else "aggregated and deleted"
    out.print(f"raw readings before {result.cutoff:%Y-%m-%d %H:%M} UTC: {result.readings} {verb}")
    if not dry_run:
        out.print(f"hourly/daily statistics written: {result.buckets}")
    gone = "due" if dry_run else "deleted"
    out.print(f"expired statistics {gone}: {result.aggregates}")


@telemetry_app.command("notify")
def notify(
    message: Annotated[str, typer.Argument(help="The alarm or status text.")],
    machine: Annotated[str, typer.Option("--machine")],
    kind: Annotated[str, typer.Option("--kind", help="A consent purpose in notifications.")],
    policy: PolicyOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Email an alarm or status to the customer's contacts who chose it (L9)."""
    from integritet.consent.wiring import open_consent
    from integritet.mail import Mailer
    from integritet.telemetry.notify import Notifier

    settings = get_settings()
    telemetry = _open(policy)
    vault = open_vault(settings, telemetry.manifest, telemetry.clock, engine=telemetry.engine)
    consent = open_consent(settings, telemetry.manifest, vault, telemetry.clock)
    links = unsubscribe_links(settings)
    notifier = Notifier(
        telemetry,
        vault,
        consent,
        mailer=Mailer(settings),
        unsubscribe=lambda subject, purpose, channel: links.url(
            settings.base_url, subject, purpose, channel
        ),
    )
    result = notifier.notify(machine, kind, message)
    if fmt == Format.json:
        print_json(result.to_dict())
        return
    out.print(
        f"sent {result.sent}, skipped {result.count('skipped')}, failed {result.count('failed')}"
    )
