"""Who a request is about: the person's identities and the categories held about them.

Before anything is erased, the ``snapshot`` step seals the identities and categories
into the request row, so later steps (datasets, recipients, the receipt) still know
whom to ask about once the vault has forgotten the person. The snapshot is wiped
when the request completes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from integritet.errors import KeyDestroyed, NotFound
from integritet.requests.context import Context
from integritet.requests.lifecycle import Lifecycle
from integritet.requests.models import RequestRow
from integritet.vault import Vault, bulk


def real_vault(ctx: Context) -> Vault | None:
    """The vault when it is integritet's own (bulk reads); None for a stand-in."""
    return ctx.vault if isinstance(ctx.vault, Vault) else None


def read_held(
    ctx: Context,
    subject_id: str,
    request: str | None,
    *,
    records: bool = True,
    identities_only: bool = False,
    session: Session | None = None,
    deferred: list[Callable[[], int]] | None = None,
) -> bulk.Held:
    """The subject's identities and records (``records=False``: only which categories),
    read in one transaction with one audit event (:mod:`integritet.vault.bulk`); raises
    NotFound / KeyDestroyed for an unknown or erased subject. ``deferred`` (with a
    ``session``): the audit event is left to the caller (:func:`bulk.read_subjects`)."""
    vault = real_vault(ctx)
    if vault is None:
        identities = ctx.vault.identities(
            ctx.system, ctx.any_purpose, subject_id, rights_request=request
        )
        return bulk.Held(identities, vault_records(ctx, subject_id, request))
    if session is not None:
        return bulk.read_subject(
            vault, session, ctx.system, subject_id, ctx.purpose_for,
            rights_request=request, records=records, identities_only=identities_only,
            deferred=deferred,
        )  # fmt: skip
    with ctx.sessions() as own, own.begin():
        return bulk.read_subject(
            vault, own, ctx.system, subject_id, ctx.purpose_for,
            rights_request=request, records=records, identities_only=identities_only,
        )  # fmt: skip


def gather(
    ctx: Context,
    lc: Lifecycle,
    row: RequestRow,
    session: Session | None = None,
    deferred: list[Callable[[], int]] | None = None,
) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """(identities, records per category) for a request: the identity it was made with and
    what the vault holds, in one vault read (in ``session`` when given; ``deferred``: see
    :func:`read_held`)."""
    found = dict(given_identity(lc, row))
    if not row.subject_id:
        return found, {}
    try:
        held = read_held(ctx, row.subject_id, row.id, session=session, deferred=deferred)
    except (NotFound, KeyDestroyed):
        return found, {}
    found.update(held.identities)
    return found, held.records


def vault_records(
    ctx: Context, subject_id: str, request: str | None = None
) -> dict[str, list[Any]]:
    """Every vault record of the subject, per category, read by the system actor.

    With ``request`` (the id of the person's own request) the vault lets the engine read a
    restricted subject too (Art. 18(2)) and records that exemption in the audit event.
    """
    vault = real_vault(ctx)
    if vault is not None:
        return read_held(ctx, subject_id, request).records
    held: dict[str, list[Any]] = {}
    for category in ctx.manifest.categories:
        records = ctx.vault.records(
            ctx.system,
            ctx.purpose_for(category.id),
            subject_id,
            category.id,
            rights_request=request,
        )
        if records:
            held[category.id] = list(records)
    return held


def given_identity(lc: Lifecycle, row: RequestRow) -> dict[str, str]:
    """The identity the request was made with (from the sealed payload)."""
    given = lc.payload(row).get("identity")
    if isinstance(given, dict) and given.get("kind") and given.get("value"):
        return {str(given["kind"]): str(given["value"])}
    return {}


def live_identities(ctx: Context, lc: Lifecycle, row: RequestRow) -> dict[str, str]:
    found = dict(given_identity(lc, row))
    if row.subject_id:
        try:
            found.update(
                ctx.vault.identities(
                    ctx.system, ctx.any_purpose, row.subject_id, rights_request=row.id
                )
            )
        except (NotFound, KeyDestroyed):
            pass
    return found


def snapshot(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    """Step: seal identities and held categories into the request (idempotent)."""
    with ctx.sessions() as session, session.begin():
        row = lc.load(session, request_id, lock=True)
        if row.identities_sealed is not None:
            known = json.loads(lc.open_value(row, "identities_sealed") or "{}")
            return {
                "identity_kinds": sorted(known["identities"]),
                "categories": known["categories"],
            }
        identities = dict(given_identity(lc, row))
        categories: list[str] = []
        if row.subject_id:
            try:
                held = read_held(ctx, row.subject_id, row.id, records=False, session=session)
                identities.update(held.identities)
                categories = held.categories
            except (NotFound, KeyDestroyed):
                categories = []
        value = json.dumps({"identities": identities, "categories": categories}, sort_keys=True)
        lc.seal_value(row, "identities_sealed", value)
    return {"identity_kinds": sorted(identities), "categories": categories}


def snapshot_of(lc: Lifecycle, row: RequestRow) -> tuple[dict[str, str], list[str]]:
    """The sealed snapshot: (identities, categories); empty when none was taken."""
    raw = lc.open_value(row, "identities_sealed")
    if raw is None:
        return {}, []
    data = json.loads(raw)
    return dict(data["identities"]), list(data["categories"])
