"""Helpers for the seed-service scenarios: one service = its example manifest, a home,
a database, a moved clock, a real SMTP server, and the ways in (CLI and Python API).

A :class:`Service` opens the vault and the request engine with its :class:`FixedClock`
and runs ``integritet`` through the real entry point with ``INTEGRITET_HOME``,
``INTEGRITET_DATABASE_URL``, ``INTEGRITET_POLICY`` and the SMTP settings in the
environment. :meth:`Service.raw` returns every byte the database holds (the SQLite file
and its WAL, or every PostgreSQL row as text) so a test can show a value is not there.
"""

from __future__ import annotations

import re
import smtplib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from functools import cache
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from ruamel.yaml import YAML
from sqlalchemy import create_engine, inspect, text

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.consent import ConsentLedger
from integritet.disclosure import Disclosures
from integritet.manifest import Manifest, load_manifest
from integritet.requests import Requests, open_requests
from integritet.settings import Settings
from integritet.vault import Vault, open_vault

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
SYSTEM = Actor.system("app")


def example(service: str) -> Path:
    return ROOT / "examples" / service / "policy.yaml"


class Mailbox:
    """A real SMTP server on 127.0.0.1 that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        unsubscribe_url: str | None = None,
    ) -> str:
        """The product's mailer shape (``MailerPort``), delivering through this server."""
        message = EmailMessage()
        message["From"] = "integritet@localhost"
        message["To"] = to
        message["Subject"] = subject
        if unsubscribe_url is not None:
            message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message.set_content(text)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as smtp:
            smtp.send_message(message)
        return str(len(self.messages))


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def code_in(message: EmailMessage) -> str:
    found = re.search(r"\b(\d{6})\b", body(message))
    assert found, "no six-digit code in the message"
    return found.group(1)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Runner = Callable[..., Any]


@dataclass
class Service:
    """One seed service running on integritet in a test."""

    name: str
    manifest: Manifest
    policy: Path
    settings: Settings
    clock: FixedClock
    mailbox: Mailbox
    runner: Runner
    _vault: Vault | None = None
    _requests: list[Requests] = field(default_factory=list)

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = open_vault(self.settings, self.manifest, self.clock, notify=_quiet)
        return self._vault

    def requests(self, **kwargs: Any) -> Requests:
        engine = open_requests(
            self.settings,
            self.manifest,
            self.clock,
            vault=self.vault,
            mailer=self.mailbox,
            **kwargs,
        )
        self._requests.append(engine)
        return engine

    def disclosures(self, manifest: Manifest | None = None) -> Disclosures:
        """The sharing gate on this service's vault, consent ledger and mailbox."""
        manifest = manifest or self.manifest
        consent = ConsentLedger(self.vault.engine, manifest, clock=self.clock)
        return Disclosures(
            self.vault, manifest, consent=consent, mailer=self.mailbox, clock=self.clock
        )

    def cli(self, *args: str) -> CliResult:
        result = self.runner(*args)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    def person(
        self,
        email: str,
        records: dict[str, dict[str, Any]],
        *,
        purposes: dict[str, str],
        source: str = "person",
        customer: str | None = None,
        identities: dict[str, str] | None = None,
    ) -> str:
        """A subject with one record per category, stored through the vault as the app."""
        sid = self.vault.create_subject(
            SYSTEM, next(iter(purposes.values())), identities or {"email": email}, customer=customer
        )
        for category, fields in records.items():
            self.vault.put_record(SYSTEM, purposes[category], sid, category, fields, source)
        return sid

    def with_changes(self, tmp: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
        """Write an edited copy of the example manifest; return its path."""
        yaml = YAML()
        data = yaml.load(self.policy.read_text(encoding="utf-8"))
        edit(data)
        path = tmp / f"{self.name}-edited.yaml"
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(data, fh)
        return path

    def raw(self) -> bytes:
        """Every byte the database holds, to show that a value is not stored in plaintext."""
        url = self.settings.resolved_database_url
        if url.startswith("sqlite"):
            path = Path(url.removeprefix("sqlite:///"))
            wal = path.with_name(path.name + "-wal")
            return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        engine = create_engine(url)
        try:
            chunks: list[bytes] = []
            with engine.connect() as conn:
                for table in inspect(conn).get_table_names():
                    rows = conn.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t'))
                    chunks.extend(str(row[0]).encode() for row in rows)
            return b"\n".join(chunks)
        finally:
            engine.dispose()

    def close(self) -> None:
        for engine in self._requests:
            engine.close()
        if self._vault is not None:
            self._vault.close()


def _quiet(_message: str) -> None:
    return None


@cache
def _example_manifest(policy: Path) -> Manifest:
    return load_manifest(policy)


def open_service(
    name: str,
    *,
    home: Path,
    database_url: str,
    mailbox: Mailbox,
    runner: Runner,
    env: Callable[[str, str], None],
) -> Service:
    policy = example(name)
    settings = Settings(
        home=home,
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
    )
    env("INTEGRITET_HOME", str(home))
    env("INTEGRITET_DATABASE_URL", database_url)
    env("INTEGRITET_POLICY", str(policy))
    env("INTEGRITET_SMTP_HOST", "127.0.0.1")
    env("INTEGRITET_SMTP_PORT", str(mailbox.port))
    # parsed once per session (YAML parsing is most of a scenario's own cost); a deep copy each
    manifest = _example_manifest(policy).model_copy(deep=True)
    for recipient in manifest.recipients:
        if recipient.erasure.secret_env:
            env(recipient.erasure.secret_env, f"{recipient.id}-secret")
    return Service(
        name=name,
        manifest=manifest,
        policy=policy,
        settings=settings,
        clock=FixedClock(START),
        mailbox=mailbox,
        runner=runner,
    )


def iter_lines(output: str) -> Iterator[str]:
    return (line.strip() for line in output.splitlines() if line.strip())
