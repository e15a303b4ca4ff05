"""Telling recipients (Art. 19, L6): webhook, email to the processor, or a staff task.

For each recipient that received the person's categories (for an objection: each
recipient serving a marketing purpose) one ``dsr_recipient`` task is kept:

- ``pending``: not yet told;
- ``sent``: told (webhook queued in the outbox, email sent, or manual task opened);
- ``confirmed``: the recipient confirmed (the outbox reports the webhook confirmed: a
  200/201/204 answer, a polled ``done`` or the recipient's callback; or staff recorded it);
- ``waived``: staff recorded why this recipient cannot or need not confirm.

A request completes only when no task is ``pending`` or ``sent``. The webhook
idempotency key is derived from the request id and the recipient id, so a rerun
after a crash re-sends with the same key and the recipient acts once.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from sqlalchemy import select

from integritet.errors import ConfigError, NotFound, RequestError
from integritet.manifest.model import ErasureMethod, Recipient
from integritet.requests.context import Context
from integritet.requests.lifecycle import Kind, Lifecycle
from integritet.requests.models import RecipientTaskRow, RequestRow
from integritet.requests.people import snapshot_of

OUTSTANDING = ("pending", "sent")


def idempotency_key(request_id: str, recipient_id: str) -> str:
    return hashlib.sha256(f"{request_id}|{recipient_id}".encode()).hexdigest()[:40]


def recipients_for(ctx: Context, kind: str, categories: list[str]) -> list[Recipient]:
    """The recipients to tell about a request of ``kind`` over ``categories``."""
    manifest = ctx.manifest
    if kind == Kind.objection.value:
        marketing = {p.id for p in manifest.purposes if p.marketing}
        marketing_consents = {cp.id for cp in manifest.consent_purposes if cp.marketing}
        return [
            r
            for r in manifest.recipients
            if marketing & set(r.purposes) or r.consent_purpose in marketing_consents
        ]
    held = set(categories)
    return [r for r in manifest.recipients if held & set(r.categories)]


def _method(recipient: Recipient) -> str:
    method = recipient.erasure.method
    if method == ErasureMethod.webhook and recipient.erasure.url:
        return "webhook"
    if method == ErasureMethod.email and recipient.erasure.email:
        return "email"
    return "manual"


def tell(
    ctx: Context, lc: Lifecycle, request_id: str, changes: dict[str, Any] | None
) -> dict[str, Any]:
    """Step: create a task per recipient and tell each one not yet told (idempotent)."""
    with ctx.sessions() as session, session.begin():
        row = lc.load(session, request_id)
        identities, categories = snapshot_of(lc, row)
        for recipient in recipients_for(ctx, row.kind, categories):
            exists = session.scalar(
                select(RecipientTaskRow.id).where(
                    RecipientTaskRow.request_id == request_id,
                    RecipientTaskRow.recipient_id == recipient.id,
                )
            )
            if exists is None:
                session.add(
                    RecipientTaskRow(
                        request_id=request_id,
                        recipient_id=recipient.id,
                        method=_method(recipient),
                        status="pending",
                        idempotency_key=idempotency_key(request_id, recipient.id),
                        updated_at=ctx.clock.now(),
                    )
                )
    told: dict[str, str] = {}
    for task in tasks(ctx, request_id):
        if task.status == "pending":
            _dispatch(ctx, row, task, identities, categories, changes)
        told[task.recipient_id] = task.method
    return {"recipients": told}


def _payload(
    row: RequestRow,
    recipient: Recipient,
    identities: dict[str, str],
    categories: list[str],
    changes: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "type": f"integritet.request.{row.kind}",
        "request": row.id,
        "recipient": recipient.id,
        "identities": identities,
        "categories": sorted(set(categories) & set(recipient.categories)) or categories,
        "changes": changes or {},
        "keep": recipient.erasure.keeps.en if recipient.erasure.keeps else None,
    }


def _dispatch(
    ctx: Context,
    row: RequestRow,
    task: RecipientTaskRow,
    identities: dict[str, str],
    categories: list[str],
    changes: dict[str, Any] | None,
) -> None:
    recipient = ctx.manifest.recipient(task.recipient_id)
    payload = _payload(row, recipient, identities, categories, changes)
    delivery: str | None = None
    if task.method == "webhook":
        delivery = _webhook(ctx, recipient, payload, task.idempotency_key)
    elif task.method == "email":
        delivery = _email(ctx, recipient, payload)
    with ctx.sessions() as session, session.begin():
        stored = session.get(RecipientTaskRow, task.id, with_for_update=True)
        assert stored is not None
        stored.status = "sent"
        stored.delivery_id = delivery
        stored.updated_at = ctx.clock.now()
        ctx.audit.record(
            session,
            actor="system:requests",
            action="request.recipient_told",
            outcome="done",
            subject=row.subject_id,
            detail={"request": row.id, "recipient": recipient.id, "method": task.method},
        )


def _secret(ctx: Context, recipient: Recipient) -> str:
    env = recipient.erasure.secret_env
    secret = (ctx.secrets.get(env) or os.environ.get(env)) if env else None
    if not secret:
        raise ConfigError(
            f"recipient {recipient.id!r} needs its webhook secret in ${env or '<secret_env>'}"
        )
    return secret


def _webhook(ctx: Context, recipient: Recipient, payload: dict[str, Any], key: str) -> str:
    if ctx.outbox is None:
        raise ConfigError("no webhook outbox is configured for telling recipients")
    secret = _secret(ctx, recipient)
    assert recipient.erasure.url is not None
    return ctx.outbox.enqueue(recipient.id, recipient.erasure.url, secret, payload, key)


def tell_many(ctx: Context, lc: Lifecycle, request_ids: list[str]) -> dict[str, Any]:
    """:func:`tell` (without changes) for many requests: the tasks created in one
    transaction, the webhooks queued together (``enqueue_many`` when the outbox has it), the
    tasks marked ``sent`` in one more, with one ``request.recipient_told`` audit event per
    recipient for the batch (detail: the request ids and their count)."""
    with ctx.sessions() as session, session.begin():
        rows = lc.load_many(session, request_ids)
        have = set(
            session.execute(
                select(RecipientTaskRow.request_id, RecipientTaskRow.recipient_id).where(
                    RecipientTaskRow.request_id.in_(request_ids)
                )
            )
            .tuples()
            .all()
        )
        snaps = {rid: snapshot_of(lc, row) for rid, row in rows.items()}
        for rid, row in rows.items():
            for recipient in recipients_for(ctx, row.kind, snaps[rid][1]):
                if (rid, recipient.id) not in have:
                    session.add(
                        RecipientTaskRow(
                            request_id=rid,
                            recipient_id=recipient.id,
                            method=_method(recipient),
                            status="pending",
                            idempotency_key=idempotency_key(rid, recipient.id),
                            updated_at=ctx.clock.now(),
                        )
                    )
    with ctx.sessions() as session:
        every = list(
            session.scalars(
                select(RecipientTaskRow)
                .where(RecipientTaskRow.request_id.in_(request_ids))
                .order_by(RecipientTaskRow.request_id, RecipientTaskRow.recipient_id)
            )
        )
    pending = [t for t in every if t.status == "pending"]
    delivery: dict[int, str | None] = {}
    hooks: list[tuple[RecipientTaskRow, Recipient, dict[str, Any]]] = []
    for task in pending:
        row = rows[task.request_id]
        identities, categories = snaps[task.request_id]
        recipient = ctx.manifest.recipient(task.recipient_id)
        payload = _payload(row, recipient, identities, categories, None)
        if task.method == "webhook":
            hooks.append((task, recipient, payload))
        elif task.method == "email":
            delivery[task.id] = _email(ctx, recipient, payload)
        else:
            delivery[task.id] = None
    many = getattr(ctx.outbox, "enqueue_many", None)
    if hooks and many is not None:
        items = [
            (r.id, r.erasure.url, _secret(ctx, r), payload, t.idempotency_key)
            for t, r, payload in hooks
        ]
        for (task, _, _), delivery_id in zip(hooks, many(items), strict=True):
            delivery[task.id] = delivery_id
    else:
        for task, recipient, payload in hooks:
            delivery[task.id] = _webhook(ctx, recipient, payload, task.idempotency_key)
    if pending:
        with ctx.sessions() as session, session.begin(), session.no_autoflush:
            stored = {
                t.id: t
                for t in session.scalars(
                    select(RecipientTaskRow)
                    .where(RecipientTaskRow.id.in_([t.id for t in pending]))
                    .order_by(RecipientTaskRow.id)
                    .with_for_update()
                )
            }
            told_by: dict[tuple[str, str], list[str]] = {}
            for task in pending:
                mine = stored[task.id]
                mine.status = "sent"
                mine.delivery_id = delivery[task.id]
                mine.updated_at = ctx.clock.now()
                told_by.setdefault((task.recipient_id, task.method), []).append(task.request_id)
            for (recipient_id, method), told_ids in told_by.items():  # one event per recipient
                ctx.audit.record(
                    session,
                    actor="system:requests",
                    action="request.recipient_told",
                    outcome="done",
                    detail={
                        "requests": ",".join(told_ids),
                        "count": len(told_ids),
                        "recipient": recipient_id,
                        "method": method,
                    },
                )
    told: dict[str, dict[str, str]] = {rid: {} for rid in request_ids}
    for task in every:
        told[task.request_id][task.recipient_id] = task.method
    return {rid: {"recipients": told[rid]} for rid in request_ids}


def poll_many(ctx: Context, request_ids: list[str]) -> dict[str, int]:
    """:func:`poll` for many requests: tasks read at once, the outbox asked once
    (``confirmed_among`` when it has it), the confirmed settled in one transaction with one
    ``request.recipient_confirmed`` audit event per recipient (request ids and count)."""
    with ctx.sessions() as session:
        every = list(
            session.scalars(
                select(RecipientTaskRow)
                .where(RecipientTaskRow.request_id.in_(request_ids))
                .order_by(RecipientTaskRow.request_id, RecipientTaskRow.recipient_id)
            )
        )
    waiting = [t for t in every if t.status in OUTSTANDING]
    outstanding = {rid: 0 for rid in request_ids}
    hooks = [t for t in waiting if t.method == "webhook" and t.delivery_id]
    confirmed: set[str] = set()
    if hooks and ctx.outbox is not None:
        among = getattr(ctx.outbox, "confirmed_among", None)
        ids = [t.delivery_id for t in hooks if t.delivery_id]
        if among is not None:
            confirmed = set(among(ids))
        else:
            confirmed = {d for d in ids if ctx.outbox.is_confirmed(d)}
    done = [t for t in waiting if t.delivery_id in confirmed and t.method == "webhook"]
    for task in waiting:
        if task not in done:
            outstanding[task.request_id] += 1
    if done:
        with ctx.sessions() as session, session.begin(), session.no_autoflush:
            stored = {
                t.id: t
                for t in session.scalars(
                    select(RecipientTaskRow)
                    .where(RecipientTaskRow.id.in_([t.id for t in done]))
                    .order_by(RecipientTaskRow.id)
                    .with_for_update()
                )
            }
            confirmed_by: dict[str, list[str]] = {}
            for task in done:
                mine = stored[task.id]
                if mine.status not in OUTSTANDING:
                    continue
                mine.status = "confirmed"
                mine.updated_at = ctx.clock.now()
                confirmed_by.setdefault(task.recipient_id, []).append(task.request_id)
            for recipient_id, confirmed_ids in confirmed_by.items():  # one event per recipient
                ctx.audit.record(
                    session,
                    actor="system:outbox",
                    action="request.recipient_confirmed",
                    outcome="done",
                    detail={
                        "requests": ",".join(confirmed_ids),
                        "count": len(confirmed_ids),
                        "recipient": recipient_id,
                    },
                )
    return outstanding


def _email(ctx: Context, recipient: Recipient, payload: dict[str, Any]) -> str:
    if ctx.mailer is None:
        raise ConfigError("no mailer is configured for telling recipients by email")
    assert recipient.erasure.email is not None
    lines = [f"{kind}: {value}" for kind, value in sorted(payload["identities"].items())]
    changes = [
        f"{cat}.{field} = {value}"
        for cat, fields in payload["changes"].items()
        for field, value in fields.items()
    ]
    text = (
        f"Begäran / Request: {payload['type']} ({payload['request']})\n"
        f"Personuppgiftsansvarig / Controller: {ctx.manifest.controller.name}\n\n"
        "Personen / The person:\n" + "\n".join(lines) + "\n\n"
        f"Kategorier / Categories: {', '.join(payload['categories'])}\n"
        + ("Rättelser / Corrections:\n" + "\n".join(changes) + "\n" if changes else "")
        + "\nBekräfta när det är utfört / Please confirm when done, quoting the request id.\n"
    )
    subject = f"Registrerades begäran / Data-subject request {payload['request']}"
    return ctx.mailer.send(recipient.erasure.email, subject, text)


def tasks(ctx: Context, request_id: str) -> list[RecipientTaskRow]:
    with ctx.sessions() as session:
        query = select(RecipientTaskRow).where(RecipientTaskRow.request_id == request_id)
        return list(session.scalars(query.order_by(RecipientTaskRow.recipient_id)))


def poll(ctx: Context, request_id: str) -> int:
    """Confirm delivered webhooks; return how many tasks are still outstanding."""
    outstanding = 0
    for task in tasks(ctx, request_id):
        if task.status not in OUTSTANDING:
            continue
        if task.method == "webhook" and task.delivery_id and ctx.outbox is not None:
            if ctx.outbox.is_confirmed(task.delivery_id):
                _settle(ctx, request_id, task.recipient_id, "confirmed", "system:outbox", None)
                continue
        outstanding += 1
    return outstanding


def confirm(
    ctx: Context,
    lc: Lifecycle,
    request_id: str,
    recipient_id: str,
    staff: str,
    note: str | None,
    *,
    waive: bool = False,
) -> None:
    """Staff record that a recipient confirmed (or, with ``waive``, why it will not)."""
    if waive and not (note and note.strip()):
        raise RequestError("say why the recipient will not confirm (--note)")
    _settle(
        ctx,
        request_id,
        recipient_id,
        "waived" if waive else "confirmed",
        f"staff:{staff}",
        note,
        lc=lc,
    )


def _settle(
    ctx: Context,
    request_id: str,
    recipient_id: str,
    status: str,
    actor: str,
    note: str | None,
    lc: Lifecycle | None = None,
) -> None:
    with ctx.sessions() as session, session.begin():
        task = session.scalars(
            select(RecipientTaskRow)
            .where(
                RecipientTaskRow.request_id == request_id,
                RecipientTaskRow.recipient_id == recipient_id,
            )
            .with_for_update()
        ).first()
        if task is None:
            raise NotFound(f"request {request_id} has no task for recipient {recipient_id!r}")
        task.status = status
        task.updated_at = ctx.clock.now()
        if note:
            task.note_sealed = ctx.keys.seal(note, f"{request_id}|{recipient_id}|note")
        subject = session.scalar(select(RequestRow.subject_id).where(RequestRow.id == request_id))
        ctx.audit.record(
            session,
            actor=actor,
            action="request.recipient_" + status,
            outcome="done",
            subject=subject,
            detail={"request": request_id, "recipient": recipient_id},
        )
