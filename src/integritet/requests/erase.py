"""Erasure (Art. 17, L4, L6, J15, P11) and its signed receipt.

Steps, each persisted before and after it runs and safe to repeat:

1. ``snapshot`` (see :mod:`integritet.requests.people`): identities and categories sealed
   into the request, so later steps can still name the person;
2. ``dataset:<id>``: the connector applies the manifest's erasure actions in that
   database (one transaction per database; a rerun finds nothing left to erase);
3. ``consent``: the person's consent history is forgotten (the audit log keeps the facts);
4. ``vault``: the vault destroys the keys and rows in one transaction, keeping records
   under legal holds until their destroy-after date (a rerun reports ``already_erased``);
5. ``recipients``: every recipient that received the data is told (:mod:`.propagate`);
6. ``receipt``: an Ed25519-signed JSON receipt of what was erased where, what was kept and
   why, and the audit-chain position.

Rejection where ``rights.erasure_exceptions`` apply is a staff decision
(:meth:`~integritet.requests.lifecycle.Lifecycle.reject` with ``exception``).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from integritet.clock import utc
from integritet.errors import NotFound
from integritet.requests.context import Context
from integritet.requests.keys import verify_signature
from integritet.requests.lifecycle import Lifecycle
from integritet.requests.models import ReceiptRow, StepRow
from integritet.requests.people import snapshot_of


def erase_dataset(ctx: Context, lc: Lifecycle, request_id: str, dataset: str) -> dict[str, Any]:
    """Step: erase the person in one connected database."""
    with ctx.sessions() as session:
        identities, _ = snapshot_of(lc, lc.load(session, request_id))
    if not identities:
        return {"dataset": dataset, "skipped": "no identities"}
    report = ctx.connectors[dataset].erase(identities)
    return report.as_dict()


def forget_consents(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    with ctx.sessions() as session:
        row = lc.load(session, request_id)
    if ctx.consent is None or row.subject_id is None:
        return {"forgotten": False}
    ctx.consent.forget(row.subject_id)
    return {"forgotten": True}


def erase_vault(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    """Step: erase the subject in the vault (restriction does not stop erasure)."""
    with ctx.sessions() as session:
        row = lc.load(session, request_id)
    if row.subject_id is None:
        return {"erased": [], "kept": [], "reason": "no subject in the vault"}
    try:
        if ctx.vault.is_restricted(row.subject_id):
            ctx.vault.lift_restriction(ctx.system, row.subject_id)
    except NotFound:
        pass
    return vault_result(ctx.vault.erase(ctx.system, ctx.any_purpose, row.subject_id))


def vault_result(result: Any) -> dict[str, Any]:
    """The ``vault`` step's result from the vault's ErasureResult."""
    return {
        "erased": list(result.erased_categories),
        "kept": [
            {
                "record": k.record_id,
                "category": k.category,
                "hold": k.hold_id,
                "until": utc(k.until).isoformat(),
            }
            for k in result.kept
        ],
        "audit_position": result.audit_position,
        "already_erased": bool(getattr(result, "already_erased", False)),
    }


def _receipt_body(ctx: Context, request_id: str) -> dict[str, Any]:
    with ctx.sessions() as session:
        steps = {
            s.name: s.result or {}
            for s in session.scalars(select(StepRow).where(StepRow.request_id == request_id))
        }
    return _body_of(ctx, request_id, steps)


def _body_of(ctx: Context, request_id: str, steps: dict[str, Any]) -> dict[str, Any]:
    vault = steps.get("vault", {})
    holds = {h.id: h for h in ctx.manifest.legal_holds}
    kept = [
        {**k, "why": holds[k["hold"]].basis.model_dump() if k["hold"] in holds else None}
        for k in vault.get("kept", [])
    ]
    return {
        "receipt": "integritet.erasure/1",
        "request": request_id,
        "controller": ctx.manifest.controller.name,
        "issued_at": utc(ctx.clock.now()).isoformat(),
        "vault": {"erased_categories": vault.get("erased", []), "kept": kept},
        "datasets": {
            name.split(":", 1)[1]: result
            for name, result in steps.items()
            if name.startswith("dataset:")
        },
        "recipients": steps.get("recipients", {}).get("recipients", {}),
        "audit_position": vault.get("audit_position"),
    }


def sign_receipt(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    """Step: write the signed receipt once (a rerun keeps the first one)."""
    with ctx.sessions() as session, session.begin():
        row = lc.load(session, request_id, lock=True)
        existing = session.get(ReceiptRow, request_id)
        if existing is None:
            body = json.dumps(
                _receipt_body(ctx, request_id),
                sort_keys=True,
                ensure_ascii=False,
                separators=(",", ":"),
            )
            existing = ReceiptRow(
                request_id=request_id,
                body=body,
                signature=ctx.keys.sign(body.encode()),
                public_key=ctx.keys.public_key,
                created_at=ctx.clock.now(),
            )
            session.add(existing)
            ctx.audit.record(
                session,
                actor="system:requests",
                action="request.receipt",
                outcome="done",
                subject=row.subject_id,
                detail={"request": request_id},
            )
    return {"signed": True, "public_key": existing.public_key}


def sign_receipts(ctx: Context, lc: Lifecycle, request_ids: list[str]) -> dict[str, Any]:
    """:func:`sign_receipt` for many requests in one transaction (steps read at once)."""
    out: dict[str, Any] = {}
    with ctx.sessions() as session, session.begin(), session.no_autoflush:
        rows = lc.load_many(session, request_ids, lock=True)
        existing = {
            r.request_id: r
            for r in session.scalars(
                select(ReceiptRow).where(ReceiptRow.request_id.in_(request_ids))
            )
        }
        steps: dict[str, dict[str, Any]] = {rid: {} for rid in request_ids}
        for s in session.scalars(select(StepRow).where(StepRow.request_id.in_(request_ids))):
            steps[s.request_id][s.name] = s.result or {}
        made = []
        for rid in request_ids:
            if rid not in rows:
                raise NotFound(f"no request with id {rid!r}")
            stored = existing.get(rid)
            if stored is None:
                body = json.dumps(
                    _body_of(ctx, rid, steps[rid]),
                    sort_keys=True,
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                stored = ReceiptRow(
                    request_id=rid,
                    body=body,
                    signature=ctx.keys.sign(body.encode()),
                    public_key=ctx.keys.public_key,
                    created_at=ctx.clock.now(),
                )
                made.append(stored)
            out[rid] = {"signed": True, "public_key": stored.public_key}
        session.add_all(made)
        if made:  # one event for the batch's receipts
            ctx.audit.record(
                session,
                actor="system:requests",
                action="request.receipt",
                outcome="done",
                detail={
                    "requests": ",".join(r.request_id for r in made),
                    "count": len(made),
                },
            )
    return out


def receipt(ctx: Context, request_id: str) -> dict[str, Any]:
    """The stored receipt: ``{"body": ..., "signature": ..., "public_key": ..., "valid": ...}``."""
    with ctx.sessions() as session:
        row = session.get(ReceiptRow, request_id)
        if row is None:
            raise NotFound(f"request {request_id} has no erasure receipt (yet)")
    return {
        "body": json.loads(row.body),
        "signature": row.signature,
        "public_key": row.public_key,
        "valid": verify_signature(row.public_key, row.body.encode(), row.signature),
    }
