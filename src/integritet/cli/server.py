"""Server commands: serve, demo."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from integritet.cli.app import app
from integritet.cli.common import PolicyOption, err, load_policy
from integritet.settings import get_settings


class DropQueryStrings(logging.Filter):
    """Access-log filter: keep method, path and status; drop the query string (it may
    hold personal data) before the line is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def _uvicorn(application: Any, host: str, port: int, **options: Any) -> None:
    import uvicorn

    access_log = bool(options.pop("access_log", False))
    if access_log:
        logging.getLogger("uvicorn.access").addFilter(DropQueryStrings())
    uvicorn.run(
        application, host=host, port=port, log_level="warning", access_log=access_log, **options
    )


@app.command()
def serve(
    policy: PolicyOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-* from --forwarded-allow-ips (reverse proxy).")
    ] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-* headers are trusted.")
    ] = "127.0.0.1",
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    access_log: Annotated[
        bool, typer.Option(help="Log requests (method, path, status; never query strings).")
    ] = False,
) -> None:
    """Run the REST API and web UI."""
    from integritet.api.app import create_app

    settings = get_settings()
    manifest = load_policy(policy)
    _check_location(manifest)
    tls: dict[str, Any] = {}
    if ssl_certfile and ssl_keyfile:
        import ssl

        tls = {
            "ssl_certfile": str(ssl_certfile),
            "ssl_keyfile": str(ssl_keyfile),
            "ssl_version": ssl.PROTOCOL_TLS_SERVER,
        }
    scheme = "https" if tls else "http"
    err.print(f"integritet serving on {scheme}://{host}:{port}/")
    _uvicorn(
        create_app(settings, manifest),
        host,
        port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        access_log=access_log,
        **tls,
    )


def _check_location(manifest: Any) -> None:
    """Refuse to start (one line, exit 3) when ``INTEGRITET_LOCATION`` names a location the
    manifest does not declare: every write of this node would be refused (V8)."""
    from integritet.errors import ResidencyError
    from integritet.residency import NodeSettings, check_node

    here = NodeSettings().location
    try:
        check_node(manifest, here)
    except ResidencyError as exc:
        raise ResidencyError(f"INTEGRITET_LOCATION={here}: {exc.reason}; not starting") from None


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    service: Annotated[str, typer.Option(help="Which example service to demo.")] = "loggamera",
    seed_only: Annotated[
        bool, typer.Option("--seed-only", help="Create the demo data and exit.")
    ] = False,
) -> None:
    """Start a demo server with an example service and realistic generated data."""
    from integritet.api.app import create_app
    from integritet.api.demo import MailboxMailer
    from integritet.examples import example_policy
    from integritet.manifest import load_manifest
    from integritet.services import Services, privacy_contact

    settings = get_settings()
    settings.base_url = f"http://{host}:{port}"
    path = example_policy(service)
    manifest = load_manifest(path)  # as published: the demo enforces the example itself
    mailbox = settings.home / "mailbox"
    # The server's settings (base_url, privacy contact), so demo mail links point here.
    mail_settings = settings.model_copy(
        update={
            "smtp_sender": "demo@integritet.invalid",
            "privacy_contact": settings.privacy_contact or privacy_contact(manifest),
        }
    )
    mailer = MailboxMailer(mailbox, mail_settings)
    services = Services.open(settings, manifest, mailer=mailer, notify=err.print)
    try:
        banner = _seed_and_banner(services, settings.home, path)
        for line in banner:
            err.print(line, highlight=False, markup=False)
        if seed_only:
            return
        _uvicorn(create_app(settings, manifest, services=services), host, port)
    finally:
        services.close()


def _seed_and_banner(services: Any, home: Path, path: Path) -> list[str]:
    from rich.progress import Progress

    from integritet.api.demo import load_or_seed

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("creating demo data", total=None)
        data, created = load_or_seed(
            services, home, lambda done, total: progress.update(task, completed=done, total=total)
        )
    base = services.settings.base_url
    first_subject = services.vault.find_subject(
        _demo_actor(), services.manifest.purposes[0].id, "email", _first_email()
    )
    link = services.identity.create_subject_link(first_subject) if first_subject else ""
    roles = {r.id: r.name.en for r in services.manifest.roles}
    lines = [
        f"integritet demo: {path} (unchanged; roles: {', '.join(roles)})",
        f"  {'created' if created else 'reusing'} demo data in {home}: "
        f"{data.subjects} people, {len(data.customers)} customers, {data.requests} requests"
        + (f", {len(data.machines)} machines" if data.machines else ""),
        f"  open {base}/ in a browser; API docs: {base}/api/v1/docs",
        f"  staff console: {base}/console  (sign in below; API: POST /api/v1/auth/login)",
        f"  policy: {base}/api/v1/policy?lang=sv  register (Art. 30): {base}/api/v1/register",
        *_user_lines(services, data),
        f"  system token ({', '.join(_token_scopes(services, data.token))}): {data.token}",
        f"  self-service portal for a data subject (link: 15 min, single use): "
        f"{base}/portal/link/{link}",
        f"  emails (codes, links) are written to {home / 'mailbox'}",
        "  stop with Ctrl-C",
    ]
    telemetry = services.manifest.telemetry
    if telemetry is not None and len(data.machines) > 2 and "tekniker" in data.passwords:
        lines.insert(
            -4,
            f"  machine data (tekniker): {base}/api/v1/telemetry/machines/"
            f"{data.machines[2]}?purpose={telemetry.purposes[0]}",
        )
    return lines


def _user_lines(services: Any, data: Any) -> list[str]:
    import pyotp

    names = {r.id: r.name.en for r in services.manifest.roles}
    lines = []
    for username, password in data.passwords.items():
        role = services.identity.user(username).role
        line = f"    {username:<10} password {password}  ({names.get(role, role)})"
        if username in data.totp:
            secret = pyotp.parse_uri(data.totp[username]).secret
            line += f"  TOTP secret {secret} (code now: {pyotp.TOTP(secret).now()})"
        lines.append(line)
    return lines


def _token_scopes(services: Any, token: str) -> list[str]:
    found = services.identity.token(token)
    return sorted(found.scopes) if found is not None else []


def _demo_actor() -> Any:
    from integritet.access import Actor

    return Actor.system("demo")


def _first_email() -> str:
    from integritet.api.demo import people

    return people(1)[0].email
