"""Fixtures for the request engine: a vault with one person, a real SMTP server, an outbox."""

from __future__ import annotations

import re
import smtplib
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.requests import Requests, open_requests
from integritet.settings import Settings
from integritet.vault import Vault, open_vault

ANNA = {"email": "anna@example.se", "phone": "+46701234567"}


class _Collector:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def mailbox() -> Iterator[_Collector]:
    """A real SMTP server on 127.0.0.1 collecting what it receives."""
    collector = _Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=_free_port())
    controller.start()
    collector.port = controller.port  # type: ignore[attr-defined]
    try:
        yield collector
    finally:
        controller.stop()


class SmtpMailer:
    """Sends through smtplib to the test server (the product's Mailer has the same shape)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        unsubscribe_url: str | None = None,
    ) -> str:
        message = EmailMessage()
        message["From"] = "integritet@localhost"
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as smtp:
            smtp.send_message(message)
        return str(len(subject))


@dataclass
class RecordingOutbox:
    """A webhook outbox that records what it was asked to send; ``down`` refuses delivery."""

    queued: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivered: set[str] = field(default_factory=set)
    down: bool = False
    attempts: int = 0

    def enqueue(
        self,
        recipient_id: str,
        url: str,
        secret: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
    ) -> str:
        self.queued.setdefault(
            idempotency_key, {"recipient": recipient_id, "payload": payload, "count": 0}
        )
        self.queued[idempotency_key]["count"] += 1
        return idempotency_key

    def deliver_due(self) -> int:
        self.attempts += 1
        if self.down:
            return 0
        new = set(self.queued) - self.delivered
        self.delivered |= new
        return len(new)

    def is_confirmed(self, delivery_id: str) -> bool:
        return delivery_id in self.delivered


@dataclass
class World:
    settings: Settings
    manifest: Manifest
    clock: FixedClock
    vault: Vault
    requests: Requests
    outbox: RecordingOutbox
    mailbox: _Collector
    anna: str
    identities: dict[str, str] = field(default_factory=lambda: dict(ANNA))


def make_world(
    settings: Settings, manifest: Manifest, clock: FixedClock, mailbox: _Collector, **kwargs: Any
) -> World:
    vault = open_vault(settings, manifest, clock, notify=lambda _m: None)
    system = Actor.system("test")
    anna = vault.create_subject(system, "account", ANNA)
    vault.put_record(
        system,
        "account",
        anna,
        "contact",
        {"name": "Anna Andersson", **ANNA, "address": "Storgatan 1"},
        "person",
    )
    vault.put_record(system, "accounting", anna, "sales", {"order": "A-1", "amount": 100}, "person")
    vault.put_record(system, "account", anna, "access_log", {"ip": "10.0.0.1", "at": "x"}, "person")
    outbox = kwargs.pop("outbox") if "outbox" in kwargs else RecordingOutbox()
    requests = open_requests(
        settings,
        manifest,
        clock,
        vault=vault,
        mailer=SmtpMailer(mailbox.port),  # type: ignore[attr-defined]
        outbox=outbox,
        connectors=kwargs.pop("connectors", {}),
        **kwargs,
    )
    return World(settings, manifest, clock, vault, requests, outbox, mailbox, anna)


@pytest.fixture(name="make_world")
def make_world_fixture() -> Any:
    """The world builder, for tests that need another manifest or a real outbox."""
    return make_world


@pytest.fixture
def world(
    database_url: str,
    tmp_path: Path,
    loggamera: Manifest,
    clock: FixedClock,
    mailbox: _Collector,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    monkeypatch.setenv("VISMA_WEBHOOK_SECRET", "visma-secret")
    monkeypatch.setenv("MAILCHIMP_WEBHOOK_SECRET", "mailchimp-secret")
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    made = make_world(settings, loggamera, clock, mailbox)
    try:
        yield made
    finally:
        made.vault.engine.dispose()


def _code_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"\b(\d{6})\b", body.get_content())
    assert found, "no code in the message"
    return found.group(1)


@pytest.fixture
def code_in() -> Any:
    """A function returning the six-digit code in an email."""
    return _code_in
