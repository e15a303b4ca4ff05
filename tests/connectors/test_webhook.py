"""The durable webhook outbox against a real local HTTP receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, inspect, select

from connectors.receiver import Receiver, Server
from integritet.clock import FixedClock
from integritet.connectors.outbox import DeliveryRow, Status
from integritet.connectors.webhook import WebhookOutbox
from integritet.db import make_engine, upgrade
from integritet.errors import NotFound
from integritet.manifest import Manifest

SECRET = "s3cret-for-visma"
PAYLOAD = {"action": "erase", "identities": {"email": "anna@example.se"}, "request": "r1"}
KEY = "erase:r1:visma"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    DeliveryRow.__table__.create(eng)  # only this feature's table: others may be mid-work
    yield eng
    eng.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver(SECRET)
    server = Server(rec)
    yield rec
    server.close()


@pytest.fixture(autouse=True)
def _opened() -> Iterator[list[WebhookOutbox]]:
    """Every outbox a test opens is closed after it (no dangling sockets)."""
    OPENED.clear()
    yield OPENED
    for box in OPENED:
        box.close()


OPENED: list[WebhookOutbox] = []


@pytest.fixture(scope="module", autouse=True)
def _client() -> Iterator[None]:
    """One HTTP client for the module: creating one (TLS setup) costs a tenth of a second."""
    CLIENT.append(httpx.Client(timeout=2.0))
    yield
    CLIENT.pop().close()


CLIENT: list[httpx.Client] = []


def outbox(engine: Engine, clock: FixedClock, **options: object) -> WebhookOutbox:
    options.setdefault("client", CLIENT[0])
    box = WebhookOutbox(engine, clock, rng=random.Random(7), **options)  # type: ignore[arg-type]
    OPENED.append(box)
    return box


def run_until_settled(box: WebhookOutbox, clock: FixedClock, ref: str, limit: int = 40) -> int:
    """Deliver, then move the clock to the next attempt, until the delivery settles."""
    for rounds in range(1, limit + 1):
        box.deliver_due()
        state = box.status(ref)
        if state.status not in (Status.pending, Status.polling):
            return rounds
        assert state.next_attempt_at is not None
        clock.set(state.next_attempt_at)
    raise AssertionError("delivery did not settle")


def test_a_failing_receiver_is_retried_with_the_same_key_and_body(
    engine: Engine, clock: FixedClock, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    box = outbox(engine, clock)
    delivery = box.enqueue("visma", receiver.url, SECRET, PAYLOAD, KEY)
    assert box.deliver_due() == 0
    first = box.status(delivery)
    assert (first.status, first.attempts, first.last_error) == (Status.pending, 1, "HTTP 503")
    assert first.next_attempt_at is not None
    wait = first.next_attempt_at - clock.now()
    assert timedelta(seconds=15) <= wait <= timedelta(seconds=30)
    assert box.deliver_due() == 0 and len(receiver.calls) == 1  # not due yet
    clock.set(first.next_attempt_at)
    box.deliver_due()
    second = box.status(delivery)
    assert second.next_attempt_at is not None
    assert second.next_attempt_at - clock.now() >= timedelta(seconds=30)  # doubled
    clock.set(second.next_attempt_at)
    assert box.deliver_due() == 1
    done = box.status(delivery)
    assert done.status == Status.confirmed and done.confirmed_at == clock.now()
    posts = receiver.posts()
    assert len(posts) == 3 and all(c.signed for c in posts)
    assert {c.headers["idempotency-key"] for c in posts} == {KEY}
    assert {c.body for c in posts} == {posts[0].body}
    assert json.loads(posts[0].body) == PAYLOAD
    assert all("x-integritet-timestamp" in c.headers for c in posts)


def test_the_same_idempotency_key_queues_once(engine: Engine, clock: FixedClock) -> None:
    box = outbox(engine, clock)
    first = box.enqueue("visma", "http://127.0.0.1:9/x", SECRET, PAYLOAD, KEY)
    assert box.enqueue("visma", "http://127.0.0.1:9/x", SECRET, PAYLOAD, KEY) == first
    assert [d.id for d in box.list()] == [first]
    assert box.status(KEY).id == first


def test_nothing_personal_or_secret_is_stored_in_plaintext(
    engine: Engine, clock: FixedClock, receiver: Receiver
) -> None:
    box = outbox(engine, clock)
    delivery = box.enqueue("visma", receiver.url, SECRET, PAYLOAD, KEY)
    with engine.connect() as conn:
        row = conn.execute(select(DeliveryRow.__table__)).one()
    stored = repr(tuple(row)).encode() + bytes(row.body)
    assert b"anna@example.se" not in stored and SECRET.encode() not in stored
    box.deliver_due()
    with engine.connect() as conn:
        body = conn.execute(select(DeliveryRow.body).where(DeliveryRow.id == delivery)).scalar()
    assert body is None  # dropped once the recipient has it


def test_down_for_an_hour_then_back_with_a_restart_in_between(
    engine: Engine, clock: FixedClock, receiver: Receiver
) -> None:
    start = clock.now()
    receiver.is_down = lambda: clock.now() < start + timedelta(hours=1)
    box = outbox(engine, clock)
    delivery = box.enqueue("mailchimp", receiver.url, SECRET, PAYLOAD, KEY)
    for _ in range(4):
        box.deliver_due()
        state = box.status(delivery)
        assert state.next_attempt_at is not None
        clock.set(state.next_attempt_at)
    # the process restarts: a new outbox over the same database, secrets from the config
    again = outbox(engine, clock, secrets={"mailchimp": SECRET})
    run_until_settled(again, clock, delivery)
    done = again.status(delivery)
    assert done.status == Status.confirmed
    assert start + timedelta(hours=1) <= clock.now() <= start + timedelta(hours=2)
    posts = receiver.posts()
    assert 6 <= len(posts) <= 12 and all(c.signed for c in posts)
    assert {c.headers["idempotency-key"] for c in posts} == {KEY}


def test_backoff_doubles_and_is_capped_at_an_hour(engine: Engine, clock: FixedClock) -> None:
    box = outbox(engine, clock)
    delays = [box.backoff(n) for n in range(1, 15)]
    assert timedelta(seconds=15) <= delays[0] <= timedelta(seconds=30)
    assert all(timedelta(minutes=30) <= d <= timedelta(hours=1) for d in delays[8:])


def test_gives_up_at_the_deadline_and_staff_can_retry(
    engine: Engine, clock: FixedClock, receiver: Receiver
) -> None:
    receiver.is_down = lambda: True
    box = outbox(engine, clock, give_up_after=timedelta(hours=2))
    delivery = box.enqueue("visma", receiver.url, SECRET, PAYLOAD, KEY)
    run_until_settled(box, clock, delivery)
    failed = box.status(delivery)
    assert failed.status == Status.failed and failed.last_error == "gave up: HTTP 503"
    assert [d.id for d in box.list(Status.failed)] == [delivery]
    receiver.is_down = lambda: False
    assert box.retry(delivery).status == Status.pending
    assert box.deliver_due() == 1 and box.is_confirmed(delivery)


def test_accepted_then_polled_until_done(
    engine: Engine, clock: FixedClock, receiver: Receiver
) -> None:
    receiver.mode = "poll"
    receiver.pending_polls = 2
    box = outbox(engine, clock)
    delivery = box.enqueue("visma", receiver.url, SECRET, PAYLOAD, KEY)
    assert box.deliver_due() == 1
    state = box.status(delivery)
    assert state.status == Status.polling and box.is_delivered(delivery)
    assert state.status_url is not None and state.status_url.endswith("/status/" + KEY)
    run_until_settled(box, clock, delivery)
    assert box.is_confirmed(delivery)
    polls = [c for c in receiver.calls if c.method == "GET"]
    assert len(polls) == 3 and all(c.signed for c in polls)


def test_accepted_then_confirmed_by_callback(
    engine: Engine, clock: FixedClock, receiver: Receiver
) -> None:
    receiver.mode = "accept"
    box = outbox(engine, clock)
    delivery = box.enqueue("visma", receiver.url, SECRET, PAYLOAD, KEY)
    assert box.deliver_due() == 1
    assert box.is_delivered(delivery) and not box.is_confirmed(delivery)
    clock.advance(timedelta(days=1))
    assert box.deliver_due() == 0 and len(receiver.calls) == 1  # nothing re-sent
    assert box.confirm(KEY).status == Status.confirmed
    assert box.confirm(delivery).confirmed_at == clock.now()  # idempotent
    with pytest.raises(NotFound):
        box.confirm("no-such-key")


def test_an_unconfirmed_delivery_fails_at_the_deadline(
    engine: Engine, clock: FixedClock, receiver: Receiver
) -> None:
    receiver.mode = "accept"
    box = outbox(engine, clock)
    delivery = box.enqueue("visma", receiver.url, SECRET, PAYLOAD, KEY)
    box.deliver_due()
    clock.advance(timedelta(days=8))
    box.deliver_due()
    state = box.status(delivery)
    assert (state.status, state.last_error) == (
        Status.failed,
        "no confirmation before the deadline",
    )


def test_retry_after_is_honoured(engine: Engine, clock: FixedClock, receiver: Receiver) -> None:
    receiver.fail_first = 1
    receiver.fail_status = 429
    receiver.extra_headers = {"Retry-After": "600"}
    box = outbox(engine, clock)
    delivery = box.enqueue("visma", receiver.url, SECRET, PAYLOAD, KEY)
    box.deliver_due()
    state = box.status(delivery)
    assert state.next_attempt_at == clock.now() + timedelta(seconds=600)
    assert state.last_error == "HTTP 429"


def test_no_answer_is_retried(engine: Engine, clock: FixedClock) -> None:
    box = outbox(engine, clock, timeout=2.0)
    delivery = box.enqueue("visma", "http://127.0.0.1:9/closed", SECRET, PAYLOAD, KEY)
    assert box.deliver_due() == 0
    assert box.status(delivery).last_error == "no answer (ConnectError)"


def test_after_a_restart_secrets_come_from_the_manifest_env(
    engine: Engine, clock: FixedClock, receiver: Receiver, loggamera: Manifest
) -> None:
    outbox(engine, clock).enqueue("visma", receiver.url, SECRET, PAYLOAD, KEY)
    blind = outbox(engine, clock)
    assert blind.deliver_due() == 0
    assert blind.status(KEY).last_error == "no webhook secret for recipient visma"
    clock.advance(timedelta(minutes=5))
    missing = WebhookOutbox.for_manifest(engine, clock, loggamera, environ={}, client=CLIENT[0])
    OPENED.append(missing)
    assert missing.deliver_due() == 0
    assert missing.status(KEY).last_error == (
        "webhook secret: environment variable VISMA_WEBHOOK_SECRET is not set"
    )
    clock.advance(timedelta(minutes=5))
    env = {"VISMA_WEBHOOK_SECRET": SECRET}
    restarted = WebhookOutbox.for_manifest(engine, clock, loggamera, environ=env, client=CLIENT[0])
    OPENED.append(restarted)
    assert restarted.deliver_due() == 1 and restarted.is_confirmed(KEY)
    assert len(receiver.posts()) == 1


def test_the_migration_creates_the_outbox_table(database_url: str) -> None:
    eng = make_engine(database_url)
    upgrade(eng, "0003_connectors")
    columns = {c["name"] for c in inspect(eng).get_columns("webhook_deliveries")}
    assert columns == set(DeliveryRow.__table__.columns.keys())
    eng.dispose()
