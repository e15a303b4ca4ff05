"""Sharing and residency commands: ``disclose``, ``disclosures``, ``customers location``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from integritet.access import Actor
from integritet.cli.app import app
from integritet.cli.common import Format, PolicyOption, err, load_policy, out, print_json
from integritet.clock import SystemClock
from integritet.consent.wiring import open_consent
from integritet.disclosure import Disclosures
from integritet.errors import DisclosureRefused, NotFound
from integritet.residency import Residency
from integritet.services import default_mailer
from integritet.settings import get_settings
from integritet.vault import Vault, open_vault

CLI_ACTOR = Actor.system("cli")

customers_app = typer.Typer(help="Customer organisations: where their data is stored.")
app.add_typer(customers_app, name="customers")


def _open(policy: Path | None) -> tuple[Vault, Disclosures]:
    settings = get_settings()
    manifest = load_policy(policy)
    clock = SystemClock()
    vault = open_vault(settings, manifest, clock, notify=err.print)
    consent = open_consent(settings, manifest, vault, clock)
    gate = Disclosures(
        vault, manifest, consent=consent, mailer=default_mailer(settings, manifest), clock=clock
    )
    return vault, gate


def _subject(vault: Vault, email: str) -> str:
    purpose = vault.manifest.purposes[0].id
    sid = vault.find_subject(CLI_ACTOR, purpose, "email", email)
    if sid is None:
        raise NotFound("no subject with that email")
    return sid


@app.command("disclose")
def disclose(
    recipient: Annotated[str, typer.Argument(help="The recipient id in the manifest.")],
    email: Annotated[str, typer.Option("--email", help="The person's email address.")],
    category: Annotated[
        list[str] | None,
        typer.Option("--category", "-c", help="A category to share (default: all declared)."),
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="The purpose (default: the recipient's only one)."),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option("--note", help="The legal basis (required for required_by_law recipients)."),
    ] = None,
    policy: PolicyOption = None,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Hand a person's data to a recipient, if the manifest and the person allow it.

    A recipient with notify_before_sharing gets nothing until the person was emailed its
    name. Prints the released data; every disclosure is audited and logged.
    """
    vault, gate = _open(policy)
    spec = gate.manifest.recipient(recipient)
    if purpose is None:
        if len(spec.purposes) != 1:
            raise DisclosureRefused(
                f"recipient {spec.id!r} has purposes {spec.purposes}: give --purpose"
            )
        purpose = spec.purposes[0]
    done = gate.disclose(
        CLI_ACTOR, purpose, _subject(vault, email), spec.id, category, legal_basis_note=note
    )
    if format == Format.json:
        print_json(done.as_dict())
        return
    kind = "legal disclosure" if done.legal else "disclosure"
    out.print(f"{kind} {done.id} to {done.recipient_name} ({done.recipient})", markup=False)
    if done.notified_at is not None:
        out.print(f"  the person was told the recipient's name at {done.notified_at.isoformat()}")
    for record in done.records:
        out.print(f"  {record.category}:", markup=False)
        for key, value in record.fields.items():
            out.print(f"    {key}: {value}", markup=False)


@app.command("disclosures")
def disclosures(
    email: Annotated[str, typer.Option("--email", help="The person's email address.")],
    policy: PolicyOption = None,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """List who received the person's data (recipient, categories, basis), oldest first."""
    vault, gate = _open(policy)
    found = gate.received_by(_subject(vault, email))
    if format == Format.json:
        print_json([d.as_dict(with_data=False) for d in found])
        return
    if not found:
        out.print("no disclosures")
    for d in found:
        legal = ", legal obligation" if d.legal else ""
        out.print(
            f"{d.at.isoformat()}  {d.recipient_name} ({d.recipient}): "
            f"{', '.join(d.categories)} for {d.purpose}{legal}",
            markup=False,
        )


@customers_app.command("location")
def customer_location(
    customer: Annotated[str, typer.Argument(help="The customer id or organisation number.")],
    location: Annotated[
        str | None, typer.Argument(help="A storage location id (omit to show the current).")
    ] = None,
    policy: PolicyOption = None,
) -> None:
    """Choose where a customer's data is stored, among the manifest's locations (J14)."""
    settings = get_settings()
    manifest = load_policy(policy)
    vault = open_vault(settings, manifest, notify=err.print)
    cid = _customer(vault, customer)
    residency = Residency(vault, manifest)
    if location is not None:
        residency.choose_location(CLI_ACTOR, cid, location)
    where = residency.location_for(cid)
    region = f", {where.region}" if where.region else ""
    out.print(f"{cid}: {where.id} ({where.provider}{region}, {where.country})", markup=False)


def _customer(vault: Vault, value: str) -> str:
    try:
        vault.customer_name(value)
        return value
    except NotFound:
        found = vault.find_customer(value)
        if found is None:
            raise NotFound("no customer with that id or organisation number") from None
        return found
