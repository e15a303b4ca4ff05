"""Running many erasure requests together: each step for a batch of requests at once.

:meth:`Runner.process_many <integritet.requests.runner.Runner.process_many>` plans a batch
of requests in one transaction and then runs each step of the erasure plan for all of
them: the step rows of the batch are marked ``running`` together (one UPDATE), the step's
batch handler runs, and they are marked ``done`` together with each request's own result.
Every request keeps its own plan, steps, results, history, audit events, recipient tasks,
idempotency keys and signed receipt: only the transactions and queries are shared.

Batch handlers (each safe to repeat, like the single-request ones):

- ``snapshot``: identities and categories of every subject in one vault read
  (:func:`integritet.vault.bulk.read_subjects`, one audit event per subject);
- ``dataset:<id>``: ``connector.erase_many`` (one transaction per database, one walk for
  everyone) when the connector has it, else one ``erase`` per request;
- ``vault``: :func:`integritet.vault.bulk.erase_subjects` (one ledger fsync, one
  transaction, one ``vault.erase`` event per subject, legal holds kept);
- ``recipients``: tasks created and webhooks queued for the batch in a few transactions
  (:func:`integritet.requests.propagate.tell_many`);
- ``receipt``: the signed receipts of the batch in one transaction;
- any other step: its single-request handler, request by request.

The crash points are the single runner's (``request.planned``, ``request.before:<step>``,
``request.ran:<step>``, ``request.after:<step>``, ``request.waiting``, ``request.told``),
passed once per batch; a rerun (single or batched) picks up every request where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from integritet.errors import KeyDestroyed, NotFound
from integritet.requests import erase, propagate
from integritet.requests.context import Context
from integritet.requests.lifecycle import Lifecycle
from integritet.requests.people import given_identity, real_vault, snapshot_of
from integritet.vault import bulk

BatchHandler = Callable[[Context, Lifecycle, list[str]], dict[str, dict[str, Any]]]


def snapshot_many(ctx: Context, lc: Lifecycle, request_ids: list[str]) -> dict[str, Any]:
    vault = real_vault(ctx)
    if vault is None:
        from integritet.requests.people import snapshot

        return {rid: snapshot(ctx, lc, rid) for rid in request_ids}
    out: dict[str, Any] = {}
    with ctx.sessions() as session, session.begin(), session.no_autoflush:
        rows = lc.load_many(session, request_ids, lock=True)
        todo = [row for row in rows.values() if row.identities_sealed is None]
        for row in rows.values():
            if row.identities_sealed is not None:
                known, kinds = snapshot_of(lc, row)
                out[row.id] = {"identity_kinds": sorted(known), "categories": kinds}
        asked = {row.subject_id: row.id for row in todo if row.subject_id}
        try:
            held = bulk.read_subjects(
                vault, session, ctx.system, asked, ctx.purpose_for, records=False
            )
        except (NotFound, KeyDestroyed):
            held = {}
        for row in todo:
            identities = dict(given_identity(lc, row))
            categories: list[str] = []
            found = held.get(row.subject_id or "")
            if found is not None:
                identities.update(found.identities)
                categories = found.categories
            value = json.dumps({"identities": identities, "categories": categories}, sort_keys=True)
            lc.seal_value(row, "identities_sealed", value)
            out[row.id] = {"identity_kinds": sorted(identities), "categories": categories}
    return out


def dataset_many(
    ctx: Context, lc: Lifecycle, request_ids: list[str], dataset: str
) -> dict[str, Any]:
    with ctx.sessions() as session:
        rows = lc.load_many(session, request_ids)
        people = {rid: snapshot_of(lc, row)[0] for rid, row in rows.items()}
    out: dict[str, Any] = {
        rid: {"dataset": dataset, "skipped": "no identities"}
        for rid, ids in people.items()
        if not ids
    }
    asked = {rid: ids for rid, ids in people.items() if ids}
    connector = ctx.connectors[dataset]
    many = getattr(connector, "erase_many", None)
    if asked and many is not None:
        reports = many(asked)
        out.update({rid: report.as_dict() for rid, report in reports.items()})
    else:
        out.update({rid: connector.erase(ids).as_dict() for rid, ids in asked.items()})
    return out


def vault_many(ctx: Context, lc: Lifecycle, request_ids: list[str]) -> dict[str, Any]:
    vault = real_vault(ctx)
    if vault is None:
        return {rid: erase.erase_vault(ctx, lc, rid) for rid in request_ids}
    with ctx.sessions() as session:
        rows = lc.load_many(session, request_ids)
        subjects = {rid: row.subject_id for rid, row in rows.items()}
        ids = [sid for sid in subjects.values() if sid]
        from integritet.vault.tables import SubjectRow

        restricted = list(
            session.scalars(
                select(SubjectRow.id).where(SubjectRow.id.in_(ids), SubjectRow.restricted)
            )
        )
    for sid in restricted:  # restriction does not stop erasure (as in erase.erase_vault)
        vault.lift_restriction(ctx.system, sid)
    results = bulk.erase_subjects(vault, ctx.system, ctx.any_purpose, ids)
    out: dict[str, Any] = {}
    for rid, subject_id in subjects.items():
        if subject_id is None:
            out[rid] = {"erased": [], "kept": [], "reason": "no subject in the vault"}
        elif subject_id not in results:
            raise NotFound(f"no subject {subject_id}")
        else:
            out[rid] = erase.vault_result(results[subject_id])
    return out


def consent_many(ctx: Context, lc: Lifecycle, request_ids: list[str]) -> dict[str, Any]:
    """:func:`integritet.requests.erase.forget_consents` for the batch: the consent
    history of every subject deleted in one transaction (the audit log keeps the facts)."""
    from integritet.consent import ConsentLedger

    ledger = ctx.consent
    if not isinstance(ledger, ConsentLedger):
        return {rid: erase.forget_consents(ctx, lc, rid) for rid in request_ids}
    with ctx.sessions() as session:
        rows = lc.load_many(session, request_ids)
    subjects = sorted({row.subject_id for row in rows.values() if row.subject_id})
    ledger.forget_many(subjects)
    return {rid: {"forgotten": row.subject_id is not None} for rid, row in rows.items()}


def recipients_many(ctx: Context, lc: Lifecycle, request_ids: list[str]) -> dict[str, Any]:
    return propagate.tell_many(ctx, lc, request_ids)


def receipts_many(ctx: Context, lc: Lifecycle, request_ids: list[str]) -> dict[str, Any]:
    return erase.sign_receipts(ctx, lc, request_ids)


HANDLERS: dict[str, BatchHandler] = {
    "snapshot": snapshot_many,
    "consent": consent_many,
    "vault": vault_many,
    "recipients": recipients_many,
    "receipt": receipts_many,
}


def handler(name: str, single: Callable[[str], Any]) -> BatchHandler:
    """The batch handler of step ``name``; ``single(name)`` gives the per-request one."""
    if name.startswith("dataset:"):
        dataset = name.split(":", 1)[1]
        return lambda ctx, lc, rids: dataset_many(ctx, lc, rids, dataset)
    if name in HANDLERS:
        return HANDLERS[name]
    one = single(name)
    return lambda ctx, lc, rids: {rid: one(ctx, lc, rid) for rid in rids}
