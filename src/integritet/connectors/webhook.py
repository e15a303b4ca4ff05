"""A durable outbox for signed webhooks to recipients (Art. 19, L6).

``WebhookOutbox(engine, clock)`` keeps every notification in the ``webhook_deliveries``
table, so retries survive restarts: a new outbox over the same database carries on.

Protocol (see docs/connectors.md): ``POST`` of a JSON body with the headers
``X-Integritet-Signature: sha256=<hex HMAC-SHA256 of the raw body>``,
``X-Integritet-Timestamp`` (ISO 8601, the attempt time) and ``Idempotency-Key`` (the same for
every retry of one notification, so a recipient told twice can de-duplicate). The answer:

- 200, 201 or 204: done — the delivery is *confirmed*;
- 202 with a status URL (JSON ``status_url`` or a ``Location`` header): *polling* — the URL
  is fetched (GET, same headers, signature over the empty body) until it answers
  ``{"status": "done"}`` (or ``"failed"``);
- 202 without a status URL: *delivered*, waiting for the recipient's callback, which the
  API turns into :meth:`WebhookOutbox.confirm`;
- anything else, or no answer: retried with exponential backoff and jitter (30 s doubling,
  at most 1 h, ``Retry-After`` honoured) until the deadline (7 days), then *failed* for staff.

Secrets: ``enqueue`` takes the secret *value* (resolve it with
:func:`integritet.connectors.signing.secret_from_env`). It is never stored; it signs the body
and seals it at rest. After a restart the outbox needs the secrets again: pass ``secrets``
(recipient id -> secret) or build the outbox with :meth:`WebhookOutbox.for_manifest`.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from integritet.clock import Clock, utc
from integritet.connectors import signing
from integritet.connectors.outbox import Delivery, DeliveryRow, Status
from integritet.errors import ConfigError, ConnectorError, NotFound
from integritet.manifest.model import Manifest

__all__ = ["Delivery", "Status", "WebhookOutbox", "verify_signature"]
verify_signature = signing.verify_signature
DONE_WORDS = {"done", "completed", "confirmed", "erased", "deleted"}
FAILED_WORDS = {"failed", "rejected", "error"}
CONFIRMED_CODES = (200, 201, 204)  # a send answered with one of these is confirmed


class WebhookOutbox:
    """Signed notifications with retries, idempotency keys and confirmation."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        secrets: Mapping[str, str] | Callable[[str], str] | None = None,
        give_up_after: timedelta = timedelta(days=7),
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(minutes=5),
        timeout: float = 10.0,
        batch: int = 100,
        concurrency: int = 8,
        rng: random.Random | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._secret_source = secrets
        self._known: dict[str, str] = {}
        self.give_up_after = give_up_after
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.timeout = timeout
        self.batch = batch
        self.concurrency = concurrency  # sends in flight at once (threads) per deliver_due
        self._rng = rng or random.Random()
        self._shared = client  # the caller's client (custom TLS, proxies); never closed here
        self._client: httpx.Client | None = None

    @classmethod
    def for_manifest(
        cls,
        engine: Engine,
        clock: Clock,
        manifest: Manifest,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> WebhookOutbox:
        """An outbox that reads each recipient's secret from its ``secret_env`` variable."""

        def secret(recipient_id: str) -> str:
            return signing.secret_from_env(
                manifest.recipient(recipient_id).erasure.secret_env, environ
            )

        return cls(engine, clock, secrets=secret, **options)

    # ----------------------------------------------------------------- secrets

    def _secret(self, recipient_id: str) -> str:
        if recipient_id in self._known:
            return self._known[recipient_id]
        source = self._secret_source
        value = source(recipient_id) if callable(source) else (source or {}).get(recipient_id)
        if not value:
            raise ConfigError(f"no webhook secret for recipient {recipient_id}")
        self._known[recipient_id] = value
        return value

    # ----------------------------------------------------------------- enqueue

    def enqueue(
        self,
        recipient_id: str,
        url: str,
        secret: str,
        payload: Mapping[str, Any],
        idempotency_key: str,
    ) -> str:
        """Queue one notification; the same ``idempotency_key`` again returns the same id."""
        if not secret:
            raise ConfigError(f"no webhook secret for recipient {recipient_id}")
        existing = self._find(idempotency_key)
        if existing is not None:
            return existing.id
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        delivery_id = uuid.uuid4().hex
        now = self.clock.now()
        row = DeliveryRow(
            id=delivery_id,
            recipient_id=recipient_id,
            url=url,
            idempotency_key=idempotency_key,
            signature=signing.sign(secret, body),
            body=signing.seal(secret, delivery_id, body),
            status=Status.pending,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            deadline_at=now + self.give_up_after,
        )
        try:
            with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:  # another worker queued the same key first
            raced = self._find(idempotency_key)
            if raced is None:
                raise
            return raced.id
        self._known[recipient_id] = secret
        return delivery_id

    def enqueue_many(self, items: list[tuple[str, str, str, Mapping[str, Any], str]]) -> list[str]:
        """:meth:`enqueue` for many ``(recipient_id, url, secret, payload, idempotency_key)``
        in one transaction; keys already queued return their existing ids."""
        keys = [item[4] for item in items]
        with self._sessions() as session:
            known = dict(
                session.execute(
                    select(DeliveryRow.idempotency_key, DeliveryRow.id).where(
                        DeliveryRow.idempotency_key.in_(keys)
                    )
                )
                .tuples()
                .all()
            )
        now = self.clock.now()
        rows: list[DeliveryRow] = []
        ids: list[str] = []
        for recipient_id, url, secret, payload, key in items:
            if not secret:
                raise ConfigError(f"no webhook secret for recipient {recipient_id}")
            if key in known:
                ids.append(known[key])
                continue
            body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
            delivery_id = uuid.uuid4().hex
            known[key] = delivery_id
            rows.append(
                DeliveryRow(
                    id=delivery_id,
                    recipient_id=recipient_id,
                    url=url,
                    idempotency_key=key,
                    signature=signing.sign(secret, body),
                    body=signing.seal(secret, delivery_id, body),
                    status=Status.pending,
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                    deadline_at=now + self.give_up_after,
                )
            )
            ids.append(delivery_id)
            self._known[recipient_id] = secret
        if rows:
            try:
                with self._sessions() as session, session.begin():
                    session.add_all(rows)
            except IntegrityError:  # another worker queued some key first: one by one
                return [self.enqueue(*item) for item in items]
        return ids

    def confirmed_among(self, refs: list[str]) -> list[str]:
        """The delivery ids among ``refs`` that are confirmed (one query)."""
        if not refs:
            return []
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(DeliveryRow.id).where(
                        DeliveryRow.id.in_(refs), DeliveryRow.status == Status.confirmed
                    )
                )
            )

    # ----------------------------------------------------------------- delivery

    def deliver_due(self, client: httpx.Client | None = None) -> int:
        """Send or poll every due delivery once; returns how many reached their recipient."""
        self._expire_unconfirmed()
        claimed = self._claim()
        if not claimed:
            return 0
        client = client or self._shared
        if client is None:
            if self._client is None:  # one pooled client per outbox; close() frees it
                self._client = httpx.Client(timeout=self.timeout)
            client = self._client
        if len(claimed) == 1 or self.concurrency <= 1:
            return sum(self._attempt(client, row) for row in claimed)
        http = client
        with ThreadPoolExecutor(min(self.concurrency, len(claimed))) as pool:
            sent = list(pool.map(lambda row: self._post(http, row), claimed))
        done = [row.id for row, response in sent if _done(row, response)]
        self._finish_many(done)
        reached = len(done)
        for row, response in sent:
            if row.id not in done:
                reached += self._settle(row, response)
        return reached

    def _post(
        self, http: httpx.Client, row: DeliveryRow
    ) -> tuple[DeliveryRow, httpx.Response | Exception]:
        """One send or poll, no bookkeeping (run concurrently by :meth:`deliver_due`)."""
        headers = {
            signing.TIMESTAMP_HEADER: self.clock.now().isoformat(),
            signing.IDEMPOTENCY_HEADER: row.idempotency_key,
        }
        try:
            secret = self._secret(row.recipient_id)
            if row.status == Status.polling and row.status_url:
                headers[signing.SIGNATURE_HEADER] = signing.sign(secret, b"")
                return row, http.get(row.status_url, headers=headers)
            body = signing.unseal(secret, row.id, row.body or b"")
            headers[signing.SIGNATURE_HEADER] = row.signature or signing.sign(secret, body)
            headers["Content-Type"] = "application/json"
            return row, http.post(row.url, content=body, headers=headers)
        except (ConfigError, ConnectorError, httpx.HTTPError) as exc:
            return row, exc

    def _settle(self, row: DeliveryRow, outcome: httpx.Response | Exception) -> bool:
        """The bookkeeping of one attempt :meth:`_post` made."""
        if isinstance(outcome, ConfigError | ConnectorError):
            self._retry(row.id, row.attempts, outcome.message[:200], None)
            return False
        if isinstance(outcome, Exception):
            self._retry(row.id, row.attempts, f"no answer ({type(outcome).__name__})", None)
            return False
        if row.status == Status.polling and row.status_url:
            return self._after_poll(row, outcome)
        return self._after_send(row, outcome)

    def _finish_many(self, delivery_ids: list[str]) -> None:
        """Mark deliveries confirmed, in one transaction."""
        if not delivery_ids:
            return
        now = self.clock.now()
        with self._sessions() as session, session.begin():
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(delivery_ids), DeliveryRow.delivered_at.is_(None))
                .values(delivered_at=now)
            )
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(delivery_ids))
                .values(
                    status=Status.confirmed,
                    confirmed_at=now,
                    body=None,
                    signature=None,
                    next_attempt_at=None,
                    last_error=None,
                )
            )

    def close(self) -> None:
        """Close the HTTP client the outbox opened (the database stays)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> WebhookOutbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _claim(self) -> list[DeliveryRow]:
        """Take due rows under a lease, so a crashed worker's rows come back later."""
        now = self.clock.now()
        with self._sessions() as session, session.begin():
            query = (
                select(DeliveryRow)
                .where(DeliveryRow.status.in_([Status.pending, Status.polling]))
                .where(DeliveryRow.next_attempt_at <= now)
                .order_by(DeliveryRow.next_attempt_at)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            rows = list(session.scalars(query))
            for row in rows:
                row.attempts += 1
                row.last_attempt_at = now
                row.next_attempt_at = now + self.lease
        return rows

    def _attempt(self, http: httpx.Client, row: DeliveryRow) -> bool:
        """Send or poll one delivery and do its bookkeeping."""
        return self._settle(*self._post(http, row))

    def _after_send(self, row: DeliveryRow, response: httpx.Response) -> bool:
        code = response.status_code
        if code in CONFIRMED_CODES:
            self._finish(row.id)
            return True
        if code == 202:
            status_url = _status_url(response)
            if status_url:
                self._set(row.id, status=Status.polling, status_url=status_url, body=None)
                self._retry(row.id, row.attempts, "waiting for the recipient's status", None)
            else:
                now = self.clock.now()
                self._set(row.id, status=Status.delivered, delivered_at=now, body=None)
            return True
        self._retry(row.id, row.attempts, f"HTTP {code}", _retry_after(response))
        return False

    def _after_poll(self, row: DeliveryRow, response: httpx.Response) -> bool:
        word = ""
        if response.is_success:
            try:
                word = str(response.json().get("status", "")).lower()
            except (ValueError, AttributeError):
                word = ""
        if word in DONE_WORDS:
            self._finish(row.id)
            return True
        if word in FAILED_WORDS:
            self._set(row.id, status=Status.failed, last_error=f"recipient reported {word}")
            return False
        error = "recipient still working" if response.is_success else f"HTTP {response.status_code}"
        self._retry(row.id, row.attempts, error, _retry_after(response))
        return False

    # ----------------------------------------------------------------- scheduling

    def backoff(self, attempts: int) -> timedelta:
        """Delay after ``attempts`` failed tries: doubling from ``base_delay``, capped, jittered."""
        raw = self.base_delay * (1 << min(max(attempts - 1, 0), 30))
        capped = min(raw, self.max_delay)
        return capped * (0.5 + 0.5 * self._rng.random())

    def _retry(self, delivery_id: str, attempts: int, error: str, after: timedelta | None) -> None:
        """Try again after the backoff (or ``Retry-After``), or give up past the deadline."""
        now = self.clock.now()
        row = self._get(delivery_id)
        if now >= utc(row.deadline_at):
            self._set(delivery_id, status=Status.failed, last_error=f"gave up: {error}")
            return
        delay = max(self.backoff(attempts), min(after or timedelta(0), self.max_delay))
        self._set(delivery_id, next_attempt_at=now + delay, last_error=error)

    def _expire_unconfirmed(self) -> None:
        """Deliveries that reached the recipient but were never confirmed, past the deadline."""
        with self._sessions() as session, session.begin():
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.status == Status.delivered)
                .where(DeliveryRow.deadline_at < self.clock.now())
                .values(status=Status.failed, last_error="no confirmation before the deadline")
            )

    # ----------------------------------------------------------------- state

    def _set(self, delivery_id: str, **values: Any) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(**values)
            )

    def _finish(self, delivery_id: str) -> None:
        """Mark one delivery confirmed (see :meth:`_finish_many`)."""
        self._finish_many([delivery_id])

    def _get(self, ref: str) -> DeliveryRow:
        row = self._find(ref)
        if row is None:
            raise NotFound(f"no webhook delivery {ref}")
        return row

    def _find(self, ref: str) -> DeliveryRow | None:
        with self._sessions() as session:
            query = select(DeliveryRow).where(
                or_(DeliveryRow.id == ref, DeliveryRow.idempotency_key == ref)
            )
            return session.scalars(query).first()

    def confirm(self, ref: str) -> Delivery:
        """The recipient's callback: mark the delivery (id or idempotency key) confirmed."""
        row = self._get(ref)
        if row.status != Status.confirmed:
            self._finish(row.id)
        return self.status(row.id)

    def retry(self, ref: str) -> Delivery:
        """Staff: give a failed delivery a new deadline and send it again now."""
        row = self._get(ref)
        if row.status == Status.failed and row.body is not None:
            now = self.clock.now()
            self._set(
                row.id,
                status=Status.pending,
                next_attempt_at=now,
                deadline_at=now + self.give_up_after,
            )
        return self.status(row.id)

    def status(self, ref: str) -> Delivery:
        return Delivery.of(self._get(ref))

    def is_delivered(self, ref: str) -> bool:
        """The recipient has the notification (it may still be working on it)."""
        return self.status(ref).status in (Status.delivered, Status.polling, Status.confirmed)

    def is_confirmed(self, ref: str) -> bool:
        """The recipient said it is done (answer 200/201/204, status done, or callback)."""
        return self.status(ref).status == Status.confirmed

    def list(self, status: Status | None = None, recipient_id: str | None = None) -> list[Delivery]:
        with self._sessions() as session:
            query = select(DeliveryRow).order_by(DeliveryRow.created_at, DeliveryRow.id)
            if status is not None:
                query = query.where(DeliveryRow.status == status)
            if recipient_id is not None:
                query = query.where(DeliveryRow.recipient_id == recipient_id)
            return [Delivery.of(row) for row in session.scalars(query)]


def _done(row: DeliveryRow, outcome: httpx.Response | Exception) -> bool:
    """A send answered 200/201/204: confirmed without further bookkeeping."""
    if isinstance(outcome, Exception) or (row.status == Status.polling and row.status_url):
        return False
    return outcome.status_code in CONFIRMED_CODES


def _status_url(response: httpx.Response) -> str | None:
    url: str | None = None
    try:
        data = response.json()
        if isinstance(data, dict) and isinstance(data.get("status_url"), str):
            url = data["status_url"]
    except ValueError:
        pass
    url = url or response.headers.get("Location")
    return str(response.request.url.join(url)) if url else None


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("Retry-After", "")
    return timedelta(seconds=int(value)) if value.isdigit() else None
