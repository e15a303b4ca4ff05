"""Recipients told by real signed webhooks: a processor down for an hour, then back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from integritet.connectors.webhook import WebhookOutbox, verify_signature
from integritet.manifest import Manifest
from integritet.requests import Status
from integritet.requests.propagate import idempotency_key
from integritet.settings import Settings


class Processor:
    """A processor's webhook endpoint on 127.0.0.1 that can be down."""

    def __init__(self) -> None:
        self.down = True
        self.answer = 200  # 202: accepted, the recipient calls back when done
        self.calls: list[tuple[str, bool, dict[str, Any]]] = []
        processor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = verify_signature(
                    "visma-secret", body, self.headers["X-Integritet-Signature"]
                ) or verify_signature(
                    "mailchimp-secret", body, self.headers["X-Integritet-Signature"]
                )
                processor.calls.append((self.headers["Idempotency-Key"], signed, json.loads(body)))
                self.send_response(503 if processor.down else processor.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def processor() -> Iterator[Processor]:
    server = Processor()
    yield server
    server.close()


def _pointed_at(manifest: Manifest, url: str) -> Manifest:
    recipients = [
        r.model_copy(update={"erasure": r.erasure.model_copy(update={"url": f"{url}/{r.id}"})})
        if r.erasure.url
        else r
        for r in manifest.recipients
    ]
    return manifest.model_copy(update={"recipients": recipients})


def test_webhook_down_for_an_hour_then_request_completes(
    database_url: str,
    tmp_path: Path,
    loggamera: Manifest,
    clock: Any,
    mailbox: Any,
    monkeypatch: pytest.MonkeyPatch,
    processor: Processor,
    make_world: Any,
) -> None:
    monkeypatch.setenv("VISMA_WEBHOOK_SECRET", "visma-secret")
    monkeypatch.setenv("MAILCHIMP_WEBHOOK_SECRET", "mailchimp-secret")
    manifest = _pointed_at(loggamera, processor.url)
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    world = make_world(settings, manifest, clock, mailbox, outbox=None)
    try:
        r = world.requests
        assert isinstance(r.ctx.outbox, WebhookOutbox)
        rid = r.new("erasure", subject=world.anna)
        r.verify(rid, "dpo", "checked")
        r.approve(rid, "dpo")
        assert r.process(rid) == Status.waiting_for_recipients
        for task in r.tasks(rid):
            if task.method != "webhook":
                r.confirm_recipient(rid, task.recipient_id, "dpo", "confirmed")
        for _ in range(12):  # an hour of the worker running every five minutes
            clock.advance(timedelta(minutes=5))
            assert r.process(rid) == Status.waiting_for_recipients
        failed = len(processor.calls)
        assert failed >= 4
        processor.down = False
        clock.advance(timedelta(hours=1))
        assert r.process(rid) == Status.completed
        keys = {key for key, _, _ in processor.calls}
        assert keys == {idempotency_key(rid, "visma"), idempotency_key(rid, "mailchimp")}
        assert all(signed for _, signed, _ in processor.calls)
        ok = processor.calls[failed:]
        assert len(ok) == 2 and {c[2]["recipient"] for c in ok} == {"visma", "mailchimp"}
        assert ok[0][2]["identities"]["email"] == world.identities["email"]
    finally:
        world.requests.close()
        world.vault.engine.dispose()


def test_accepted_without_callback_waits_until_the_recipient_confirms(
    database_url: str,
    tmp_path: Path,
    loggamera: Manifest,
    clock: Any,
    mailbox: Any,
    monkeypatch: pytest.MonkeyPatch,
    processor: Processor,
    make_world: Any,
) -> None:
    monkeypatch.setenv("VISMA_WEBHOOK_SECRET", "visma-secret")
    monkeypatch.setenv("MAILCHIMP_WEBHOOK_SECRET", "mailchimp-secret")
    processor.down, processor.answer = False, 202
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    world = make_world(settings, _pointed_at(loggamera, processor.url), clock, mailbox, outbox=None)
    try:
        r = world.requests
        outbox = r.ctx.outbox
        assert isinstance(outbox, WebhookOutbox)
        rid = r.new("erasure", subject=world.anna)
        r.verify(rid, "dpo", "checked")
        r.approve(rid, "dpo")
        assert r.process(rid) == Status.waiting_for_recipients
        for task in r.tasks(rid):
            if task.method != "webhook":
                r.confirm_recipient(rid, task.recipient_id, "dpo", "confirmed")
        webhooks = {t.recipient_id: t for t in r.tasks(rid) if t.method == "webhook"}
        assert set(webhooks) == {"visma", "mailchimp"}
        for _ in range(3):
            clock.advance(timedelta(minutes=5))
            assert r.process(rid) == Status.waiting_for_recipients
        for task in webhooks.values():
            assert task.delivery_id is not None
            assert outbox.is_delivered(task.delivery_id)
            assert not outbox.is_confirmed(task.delivery_id)
        assert len(processor.calls) == 2  # delivered once each, not re-sent
        assert {t.status for t in r.tasks(rid) if t.method == "webhook"} == {"sent"}
        outbox.confirm(idempotency_key(rid, "visma"))  # the callback, as the API makes it
        assert r.process(rid) == Status.waiting_for_recipients
        outbox.confirm(idempotency_key(rid, "mailchimp"))
        assert r.process(rid) == Status.completed
        assert {t.status for t in r.tasks(rid)} <= {"confirmed", "waived"}
    finally:
        world.requests.close()
        world.vault.engine.dispose()
