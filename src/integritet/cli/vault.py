"""Vault commands: db upgrade, keys rotate, vault replay-erasures, subjects import/show."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from integritet.access import Actor
from integritet.cli.app import app
from integritet.cli.common import Format, PolicyOption, err, load_policy, out, print_json
from integritet.db import upgrade
from integritet.errors import ConfigError, NotFound
from integritet.settings import get_settings
from integritet.vault import Vault, open_vault
from integritet.vault.importer import BATCH, Importer, count_rows, template_columns
from integritet.vault.open import keyring_for, vault_engine
from integritet.vault.rotation import pending, rotate

db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="Key-encryption keys.", no_args_is_help=True)
vault_app = typer.Typer(help="The encrypted personal-data vault.", no_args_is_help=True)
subjects_app = typer.Typer(help="Data subjects in the vault.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(vault_app, name="vault")
app.add_typer(subjects_app, name="subjects")

CLI_ACTOR = Actor.system("cli")


def _notify(message: str) -> None:
    err.print(message)


def _vault(policy: Path | None) -> Vault:
    return open_vault(get_settings(), load_policy(policy), notify=_notify)


@db_app.command("upgrade")
def db_upgrade(policy: PolicyOption = None) -> None:
    """Create or migrate the database schema to the newest version."""
    settings = get_settings()
    engine = vault_engine(settings, _notify)
    upgrade(engine)
    out.print(f"database {engine.url.render_as_string(hide_password=True)} is up to date")
    engine.dispose()


ROTATE_HELP = (
    "Rotate the key-encryption key (KEK) and re-wrap everything sealed under it.\n\n"
    "Rotates the KEK in $INTEGRITET_HOME/keys.json (or INTEGRITET_KEK) and re-wraps under the "
    "new KEK every secret the old one wrapped: all rows of vault_keys (subject data keys, "
    "legal-hold keys, the blind-index key) and staff TOTP secrets (api_users). The old KEK "
    "is removed only after all of them are re-wrapped; after a crash, run it again to "
    "finish.\n\n"
    "Does NOT rotate: the data keys themselves (records are not re-encrypted), the "
    "blind-index key's value, requests-keys.json (the request engine's keys), "
    "audit-signing.key or unsubscribe.key.\n\n"
    "With INTEGRITET_KEK: set INTEGRITET_KEK=<new>,<old>, run this, then set "
    "INTEGRITET_KEK=<new>. Restart running API and web servers afterwards."
)


@keys_app.command("rotate", help=ROTATE_HELP)
def keys_rotate(policy: PolicyOption = None) -> None:
    settings = get_settings()
    engine = vault_engine(settings, _notify)
    ring = keyring_for(settings, engine, _notify)
    if ring.source == "env" and len(ring.keks) == 1:
        raise ConfigError(
            "INTEGRITET_KEK holds one key: set INTEGRITET_KEK=<new>,<old> and run again"
        )
    total = sum(pending(engine, ring).values()) if len(ring.keks) > 1 else None
    columns = (TextColumn("re-wrapping"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("rotate", total=total)
        result = rotate(engine, ring, progress=lambda n: bar.advance(task, n))
    verb = "finished the interrupted rotation" if result.resumed else "rotated"
    detail = ", ".join(f"{name} {n}" for name, n in result.columns)
    out.print(f"{verb}: {result.rewrapped} keys now wrapped by {result.new_kek} ({detail})")
    if ring.source == "env" and result.retired:
        out.print("remove the old key from INTEGRITET_KEK: " + ", ".join(result.retired))
    engine.dispose()


@vault_app.command("replay-erasures")
def replay_erasures(policy: PolicyOption = None) -> None:
    """After restoring a backup: erase again everyone in the erasure ledger."""
    vault = _vault(policy)
    result = vault.replay_erasures(CLI_ACTOR)
    out.print(
        f"replayed {result.entries} ledger entries: {result.erased_subjects} subjects and "
        f"{result.erased_records} records erased again"
    )


@subjects_app.command("import")
def subjects_import(
    file: Annotated[Path | None, typer.Argument(help="CSV or JSONL file.")] = None,
    policy: PolicyOption = None,
    template: Annotated[
        bool, typer.Option("--template", help="Print the CSV header and exit.")
    ] = False,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Rows per transaction (all or nothing).")
    ] = BATCH,
) -> None:
    """Import existing subjects (in all-or-nothing batches; errors name the row)."""
    manifest = load_policy(policy)
    if template:
        typer.echo(",".join(template_columns(manifest)))
        return
    if file is None:
        raise typer.BadParameter("give a FILE to import, or --template")
    if not file.is_file():
        raise NotFound(f"no file {file}")
    vault = open_vault(get_settings(), manifest, notify=_notify)
    total = count_rows(file)
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("import", total=total)
        result = Importer(vault, CLI_ACTOR).run(file, lambda n: bar.advance(task, n), batch=batch)
    for problem in result.errors:
        err.print(f"row {problem.row}: {problem.message}", markup=False)
    out.print(
        f"imported {result.imported}, skipped {result.skipped} already present, "
        f"{len(result.errors)} rows with errors"
    )
    if result.errors:
        raise typer.Exit(1)


@subjects_app.command("show")
def subjects_show(
    email: Annotated[str, typer.Option("--email", help="The subject's email address.")],
    policy: PolicyOption = None,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Show what the vault holds about a subject (exit 1 when not found)."""
    vault = _vault(policy)
    purposes = [p.id for p in vault.manifest.purposes]
    sid = vault.find_subject(CLI_ACTOR, purposes[0], "email", email)
    if sid is None:
        raise NotFound("no subject with that email")
    data = _subject_data(vault, sid, purposes)
    if format == Format.json:
        print_json(data)
        return
    out.print(f"subject {sid}  customer {data['customer'] or '-'}", markup=False)
    if data["restricted"]:
        out.print("restricted (Art. 18): storage only")
        return
    for kind, value in data["identities"].items():
        out.print(f"  {kind}: {value}", markup=False)
    for r in data["records"]:
        hold = f", held until {r['hold_until'][:10]}" if r["hold_until"] else ""
        out.print(
            f"  {r['category']} {r['id'][:8]} ({r['source']}, {r['created_at'][:10]}, "
            f"policy {r['policy_version']}{hold})",
            markup=False,
        )
        for key, value in r["fields"].items():
            out.print(f"    {key}: {value}", markup=False)
    for name, at in data["events"].items():
        out.print(f"  event {name}: {at}")


def _subject_data(vault: Vault, sid: str, purposes: list[str]) -> dict[str, Any]:
    restricted = vault.is_restricted(sid)
    data: dict[str, Any] = {
        "id": sid,
        "customer": vault.subject_customer(sid),
        "restricted": restricted,
        "identities": {},
        "records": [],
        "events": {k: v.isoformat() for k, v in vault.events(sid).items()},
    }
    if restricted:
        return data
    data["identities"] = vault.identities(CLI_ACTOR, purposes[0], sid)
    seen: dict[str, Any] = {}
    for purpose in purposes:
        for r in vault.records(CLI_ACTOR, purpose, sid):
            seen[r.id] = {
                "id": r.id,
                "category": r.category,
                "fields": r.fields,
                "source": r.source,
                "created_at": r.created_at.isoformat(),
                "policy_version": r.policy_version,
                "hold_until": r.hold_until.isoformat() if r.hold_until else None,
            }
    data["records"] = sorted(seen.values(), key=lambda r: (r["created_at"], r["id"]))
    return data
