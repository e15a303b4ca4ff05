"""Staff commands for data-subject requests: ``integritet request ...``.

Exit codes: 0 done; 1 a request cannot move as asked (wrong state, missing step);
3 access denied; 4 key unavailable; 5 a code is wrong, expired or rate-limited.
Personal values given on the command line (email, phone, corrections) are sealed at rest
and never printed back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from integritet.cli.app import app
from integritet.cli.common import Format, PolicyOption, err, load_policy, out, print_json
from integritet.errors import ConfigError, OutputExists
from integritet.requests import Kind, Requests, Status, open_requests
from integritet.requests import access as access_right
from integritet.requests.rectify import parse_assignments
from integritet.settings import get_settings

request_app = typer.Typer(help="Data-subject requests (GDPR Art. 15-21).", no_args_is_help=True)
app.add_typer(request_app, name="request")

StaffOption = Annotated[
    str | None, typer.Option("--staff", help="Your staff name for the audit log (default $USER).")
]
IdArg = Annotated[str, typer.Argument(help="The request id.")]


class ExportFormat(StrEnum):
    json = "json"
    zip = "zip"
    html = "html"


@contextmanager
def _engine(policy: Path | None) -> Iterator[Requests]:
    """The request engine for one command; its database connections closed afterwards."""
    requests = _open(policy)
    try:
        yield requests
    finally:
        requests.close()


def _open(policy: Path | None) -> Requests:
    settings = get_settings()
    manifest = load_policy(policy)
    requests = open_requests(settings, manifest, notify=err.print)
    return requests


def _staff(staff: str | None) -> str:
    return staff or os.environ.get("USER") or "staff"


@request_app.command("new")
def new(
    kind: Annotated[Kind, typer.Argument(help="access, portability, rectification, ...")],
    policy: PolicyOption = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    phone: Annotated[str | None, typer.Option("--phone")] = None,
    personnummer: Annotated[str | None, typer.Option("--personnummer")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="Vault subject id.")] = None,
    corrections: Annotated[
        list[str] | None,
        typer.Option("--set", help="Rectification: CATEGORY.FIELD=VALUE (repeatable)."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.text,
) -> None:
    """Register a request; prints its id."""
    with _engine(policy) as requests:
        changes = parse_assignments(corrections or []) if kind == Kind.rectification else None
        rid = requests.new(
            kind,
            email=email,
            phone=phone,
            personnummer=personnummer,
            subject=subject,
            changes=changes,
        )
        if fmt == Format.json:
            print_json({"id": rid, "status": requests.get(rid).status.value})
        else:
            typer.echo(rid)


@request_app.command("verify")
def verify(
    request_id: IdArg,
    staff_note: Annotated[str, typer.Option("--staff-note", help="How identity was checked.")],
    policy: PolicyOption = None,
    staff: StaffOption = None,
) -> None:
    """Record that staff verified the person's identity."""
    with _engine(policy) as requests:
        requests.verify(request_id, _staff(staff), staff_note)
    out.print(f"{request_id}: verified")


@request_app.command("send-code")
def send_code(request_id: IdArg, policy: PolicyOption = None) -> None:
    """Email the person a one-time code (identity, or erasure confirmation)."""
    with _engine(policy) as requests:
        purpose = requests.send_code(request_id)
    out.print(f"{request_id}: {purpose} code sent")


@request_app.command("confirm")
def confirm(
    request_id: IdArg,
    code: Annotated[str, typer.Option("--code", help="The code the person received.")],
    policy: PolicyOption = None,
) -> None:
    """Check the person's code: verifies identity or confirms an erasure."""
    with _engine(policy) as requests:
        status = requests.confirm(request_id, code)
    out.print(f"{request_id}: {status.value}")


@request_app.command("approve")
def approve(request_id: IdArg, policy: PolicyOption = None, staff: StaffOption = None) -> None:
    """Record the person's confirmation (erasure, L4) or approve a verified request."""
    with _engine(policy) as requests:
        requests.approve(request_id, _staff(staff))
    out.print(f"{request_id}: confirmed")


@request_app.command("extend")
def extend(
    request_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Told to the person.")],
    policy: PolicyOption = None,
    staff: StaffOption = None,
) -> None:
    """Extend the deadline once, by up to two months (Art. 12(3))."""
    with _engine(policy) as requests:
        until = requests.extend(request_id, _staff(staff), reason)
    out.print(f"{request_id}: deadline extended to {until.date().isoformat()}")


@request_app.command("reject")
def reject(
    request_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Told to the person, with IMY.")],
    exception: Annotated[
        str | None, typer.Option("--exception", help="Erasure exception from the manifest.")
    ] = None,
    policy: PolicyOption = None,
    staff: StaffOption = None,
) -> None:
    """Reject a request with a reason (the person is told of the right to complain to IMY)."""
    with _engine(policy) as requests:
        requests.reject(request_id, _staff(staff), reason, exception)
    out.print(f"{request_id}: rejected")


@request_app.command("process")
def process(
    request_id: Annotated[str | None, typer.Argument(help="One request; default all.")] = None,
    policy: PolicyOption = None,
    batch: Annotated[
        int, typer.Option(min=1, help="Erasures run together, step by step (1: one by one).")
    ] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Threads taking batches at once.")] = 1,
) -> None:
    """Run the pending work now (what the server's worker does)."""
    with _engine(policy) as requests:
        if request_id is not None:
            out.print(f"{request_id}: {requests.process(request_id).value}")
            return
        ids = requests.runner.runnable()
        results: dict[str, Status] = {}
        with Progress(
            TextColumn("requests"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
        ) as progress:
            task = progress.add_task("process", total=len(ids))
            if batch > 1 or workers > 1:
                step = batch * workers
                for start in range(0, len(ids), step):
                    part = ids[start : start + step]
                    results.update(requests.process_many(part, batch=batch, workers=workers))
                    progress.advance(task, len(part))
            for rid in ids:
                if rid not in results:
                    results[rid] = requests.process(rid)
                    progress.advance(task)
        for rid, status in results.items():
            out.print(f"{rid}: {status.value}")
        out.print(f"processed {len(results)} request(s)")


@request_app.command("show")
def show(
    request_id: IdArg,
    policy: PolicyOption = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.text,
) -> None:
    """Show a request: status, deadline, history, steps and recipients."""
    with _engine(policy) as requests:
        data = requests.show(request_id)
    if fmt == Format.json:
        print_json(data)
        return
    out.print(f"{data['id']}  {data['kind']}  [bold]{data['status']}[/bold]")
    out.print(
        f"received {data['received_at']}  deadline {data['deadline']}"
        + ("  (extended)" if data["extended"] else "")
        + ("  [red]OVERDUE[/red]" if data.get("overdue") else "")
    )
    for step in data["steps"]:
        out.print(f"  step {step['name']}: {step['status']}")
    for task in data["recipients"]:
        out.print(f"  recipient {task['recipient']} ({task['method']}): {task['status']}")


@request_app.command("list")
def list_requests(
    policy: PolicyOption = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open, past deadline.")] = False,
    fmt: Annotated[Format, typer.Option("--format")] = Format.text,
) -> None:
    """List requests with their deadlines."""
    with _engine(policy) as requests:
        now = requests.ctx.clock.now()
        views = requests.list_requests(overdue=overdue)
        if fmt == Format.json:
            print_json([v.as_dict(now) for v in views])
            return
        table = Table("id", "kind", "status", "deadline", "overdue")
        for v in views:
            table.add_row(
                v.id,
                v.kind.value,
                v.status.value,
                v.deadline.date().isoformat(),
                "yes" if v.overdue(now) else "",
            )
        out.print(table)


@request_app.command("confirm-recipient")
def confirm_recipient(
    request_id: IdArg,
    recipient: Annotated[str, typer.Argument(help="The manifest recipient id.")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    waive: Annotated[
        bool, typer.Option("--waive", help="The recipient will not confirm; --note says why.")
    ] = False,
    policy: PolicyOption = None,
    staff: StaffOption = None,
) -> None:
    """Record that a recipient confirmed (or why it will not)."""
    with _engine(policy) as requests:
        requests.confirm_recipient(request_id, recipient, _staff(staff), note, waive=waive)
    out.print(f"{request_id}: {recipient} {'waived' if waive else 'confirmed'}")


@request_app.command("lift-restriction")
def lift_restriction(
    request_id: IdArg, policy: PolicyOption = None, staff: StaffOption = None
) -> None:
    """Lift the restriction (Art. 18) a restriction request put in place."""
    with _engine(policy) as requests:
        requests.lift_restriction(request_id, _staff(staff))
    out.print(f"{request_id}: restriction lifted")


@request_app.command("export")
def export(
    request_id: IdArg,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the file.")],
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.json,
    lang: Annotated[str, typer.Option("--lang", help="sv or en (html).")] = "sv",
    force: Annotated[bool, typer.Option("--force")] = False,
    policy: PolicyOption = None,
) -> None:
    """Write the access or portability report (JSON, zip of CSV files, or HTML)."""
    if out_path.exists() and not force:
        raise OutputExists(str(out_path))
    with _engine(policy) as requests:
        report = requests.report(request_id)
    if fmt == ExportFormat.zip:
        out_path.write_bytes(access_right.to_zip(report))
    elif fmt == ExportFormat.html:
        out_path.write_text(access_right.to_html(report, lang), encoding="utf-8")
    else:
        out_path.write_text(access_right.to_json(report), encoding="utf-8")
    os.chmod(out_path, 0o600)
    out.print(f"wrote {out_path} ({fmt.value}); it holds personal data: hand it over securely")


@request_app.command("receipt")
def receipt(request_id: IdArg, policy: PolicyOption = None) -> None:
    """Print the signed erasure receipt (JSON with signature and public key)."""
    with _engine(policy) as requests:
        data = requests.receipt(request_id)
    if not data["valid"]:
        raise ConfigError(f"the receipt of {request_id} does not verify")
    print_json(data)
