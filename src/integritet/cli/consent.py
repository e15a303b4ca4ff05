"""Consent commands: set, check, show, import, export; policy publish and versions."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from integritet.access import Actor
from integritet.cli.app import app
from integritet.cli.common import Format, PolicyOption, err, load_policy, out, print_json
from integritet.clock import SystemClock
from integritet.consent import (
    CSV_COLUMNS,
    ConsentLedger,
    ConsentSource,
    ConsentState,
    Evidence,
    export_rows,
    import_csv,
)
from integritet.consent.wiring import open_consent
from integritet.errors import NotFound
from integritet.manifest import Manifest
from integritet.settings import get_settings
from integritet.vault import Vault, open_vault

consent_app = typer.Typer(
    help="Consent per purpose and channel, with evidence.", no_args_is_help=True
)
app.add_typer(consent_app, name="consent")

STAFF = Actor.system("consent")


class Decision(StrEnum):
    given = "given"
    withdrawn = "withdrawn"


def _open(policy: Path | None) -> tuple[Manifest, Vault, ConsentLedger]:
    manifest = load_policy(policy)
    settings = get_settings()
    clock = SystemClock()
    vault = open_vault(settings, manifest, clock)
    return manifest, vault, open_consent(settings, manifest, vault, clock)


def _subject(vault: Vault, manifest: Manifest, email: str) -> str:
    purpose = manifest.purposes[0].id
    subject = vault.find_subject(STAFF, purpose, "email", email)
    if subject is None:
        raise NotFound("no subject with that email address")
    return subject


@consent_app.command("set")
def set_(
    purpose: Annotated[str, typer.Argument(help="A consent purpose of the manifest.")],
    channel: Annotated[str, typer.Argument(help="email, sms, phone or post.")],
    decision: Annotated[Decision, typer.Argument(help="given or withdrawn.")],
    email: Annotated[str, typer.Option(help="The person's email address.")],
    policy: PolicyOption = None,
    text: Annotated[str | None, typer.Option(help="The exact text the person saw.")] = None,
    source: Annotated[ConsentSource, typer.Option(help="Where the decision came from.")] = (
        ConsentSource.staff
    ),
) -> None:
    """Record a consent decision with its evidence."""
    manifest, vault, ledger = _open(policy)
    subject = _subject(vault, manifest, email)
    evidence = Evidence(source, manifest.policy.version, text=text)
    ledger.record(subject, purpose, channel, ConsentState(decision.value), evidence)
    out.print(f"{purpose} by {channel}: {decision.value}")


@consent_app.command()
def check(
    purpose: Annotated[str, typer.Argument(help="A consent purpose of the manifest.")],
    channel: Annotated[str, typer.Argument(help="email, sms, phone or post.")],
    email: Annotated[str, typer.Option(help="The person's email address.")],
    policy: PolicyOption = None,
) -> None:
    """May we contact this person for PURPOSE by CHANNEL? Exit 0 = yes, 1 = no."""
    manifest, vault, ledger = _open(policy)
    subject = _subject(vault, manifest, email)
    decision = ledger.may_contact(subject, purpose, channel)
    out.print(f"{'yes' if decision.allowed else 'no'}: {decision.reason}")
    raise typer.Exit(0 if decision.allowed else 1)


@consent_app.command()
def show(
    email: Annotated[str, typer.Option(help="The person's email address.")],
    policy: PolicyOption = None,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Every consent purpose x channel with its current state."""
    manifest, vault, ledger = _open(policy)
    rows = ledger.current(_subject(vault, manifest, email))
    if format == Format.json:
        print_json(
            [
                {
                    "purpose": r.purpose,
                    "channel": r.channel,
                    "state": r.state.value,
                    "at": r.at.isoformat() if r.at else None,
                    "policy_version": r.policy_version,
                }
                for r in rows
            ]
        )
        return
    for r in rows:
        when = f" ({r.at.date().isoformat()}, policy {r.policy_version})" if r.at else ""
        out.print(f"{r.purpose:<16} {r.channel:<6} {r.state.value}{when}")


@consent_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV with the columns of `consent export`.")],
    policy: PolicyOption = None,
) -> None:
    """Import consents (e.g. from a newsletter tool), keeping their original evidence."""
    manifest, vault, ledger = _open(policy)
    purpose = manifest.purposes[0].id
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            report = import_csv(
                ledger,
                csv.DictReader(handle),
                lambda e: vault.find_subject(STAFF, purpose, "email", e) if e else None,
            )
    except (OSError, UnicodeDecodeError) as exc:
        raise NotFound(f"cannot read {file}: {type(exc).__name__}") from None
    for line in report.errors or []:
        err.print(line)
    out.print(f"imported {report.imported} consent decisions")
    if report.errors:
        raise typer.Exit(1)


@consent_app.command()
def export(
    policy: PolicyOption = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default stdout).")
    ] = None,
) -> None:
    """Export every consent decision as CSV (the format `consent import` reads)."""
    manifest, vault, ledger = _open(policy)
    purpose = manifest.purposes[0].id
    subjects: set[str] = set()
    for cp in manifest.consent_purposes:
        for state in (ConsentState.given, ConsentState.withdrawn):
            subjects.update(ledger.subjects_with(cp.id, state))

    def email_of(subject: str) -> str | None:
        return vault.identities(STAFF, purpose, subject).get("email")

    handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        writer = csv.DictWriter(handle, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        writer.writerows(export_rows(ledger, sorted(subjects), email_of))
    finally:
        if output:
            handle.close()


policy_app = typer.Typer(help="Policy versions: publish, list.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

NOTICE_SUBJECT = {
    "sv": "Vi har ändrat vår integritetspolicy",
    "en": "We have changed our privacy policy",
}


def _notice_text(manifest: Manifest, base_url: str) -> str:
    """The notice of a material change, in Swedish then English (P12)."""
    change = next(
        (c for c in manifest.policy.changes if c.version == manifest.policy.version), None
    )
    version, name = manifest.policy.version, manifest.controller.name
    sv = [
        "Hej,",
        "",
        f"{name} har gjort en väsentlig ändring i sin integritetspolicy (version {version}).",
    ]
    en = [f"{name} has made a material change to its privacy policy (version {version})."]
    if change is not None:
        sv.append(f"Det här har ändrats: {change.summary.sv}")
        en.append(f"What changed: {change.summary.en}")
    sv += [
        f"Läs hela policyn: {base_url}/api/v1/policy?lang=sv",
        "Där det krävs ber vi dig om ett nytt samtycke; tills dess skickar vi inga sådana utskick.",
    ]
    en += [
        f"Read the whole policy: {base_url}/api/v1/policy?lang=en",
        "Where consent is needed we will ask you again; until then we send no such messages.",
    ]
    return "\n".join([*sv, "", "---", "", *en, ""])


@policy_app.command()
def publish(
    policy: PolicyOption = None,
    send: Annotated[bool, typer.Option(help="Email the notices now.")] = True,
) -> None:
    """Publish the manifest as a new policy version; a material change asks for fresh consent
    and emails everyone affected (resumable: run again to continue an interrupted send)."""
    from rich.progress import Progress

    from integritet.consent.publish import PolicyPublisher
    from integritet.consent.wiring import affected_subjects
    from integritet.mail import Mailer

    manifest, vault, ledger = _open(policy)
    settings = get_settings()
    publisher = PolicyPublisher(vault.engine, ledger, ledger.clock)
    result = publisher.publish(manifest, affected_subjects(vault, ledger))
    if result.already_published:
        out.print(f"version {result.version} is already published")
    else:
        kind = "material" if result.material else "not material"
        out.print(f"published version {result.version} ({kind})")
        for reason in result.reasons:
            out.print(f"  - {reason}")
        if result.reconsent_purposes:
            out.print(f"fresh consent required for: {', '.join(result.reconsent_purposes)}")
    counts = publisher.notice_counts(result.version)
    pending = counts.get("pending", 0)
    if not send or pending == 0:
        if pending:
            out.print(f"{pending} notices queued; run `integritet policy publish` to send them")
        return
    mailer = Mailer(settings)
    text = _notice_text(manifest, settings.base_url)
    purpose = manifest.purposes[0].id

    def deliver(subject: str, _version: str) -> str:
        email = vault.identities(STAFF, purpose, subject).get("email")
        if not email:
            from integritet.errors import ConsentError

            raise ConsentError("no email address")
        return mailer.send(email, f"{NOTICE_SUBJECT['sv']} / {NOTICE_SUBJECT['en']}", text)

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("sending notices", total=pending)
        run = publisher.send_notices(
            deliver, version=result.version, progress=lambda n: progress.advance(task, n)
        )
    out.print(f"notices: {run.sent} sent, {run.failed} to retry, {run.skipped} without email")
    if run.uncertain:
        out.print(
            f"{run.uncertain} notices were being sent when an earlier run stopped; they are not "
            "sent again — check the mail server's log"
        )
    if run.failed:
        raise typer.Exit(1)


@policy_app.command()
def versions(
    policy: PolicyOption = None,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Every published policy version with its date and whether it was material."""
    from integritet.consent.publish import PolicyPublisher

    _manifest, vault, ledger = _open(policy)
    rows = PolicyPublisher(vault.engine, ledger, ledger.clock).versions()
    if format == Format.json:
        print_json(
            [
                {
                    "version": v.version,
                    "published_at": v.published_at.isoformat(),
                    "effective": v.effective,
                    "material": v.material,
                }
                for v in rows
            ]
        )
        return
    for v in rows:
        flag = "material" if v.material else "-"
        out.print(f"{v.version:<12} {v.published_at.date().isoformat()}  {flag}")
