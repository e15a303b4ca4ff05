"""Rectification (Art. 16, V4, L11, P8): correct the person's data, then tell recipients.

A rectification request carries its corrections, ``{category: {field: new value}}``,
sealed in the request. :func:`validate_changes` checks them against the manifest when the
request is made (known categories and fields only); the ``apply`` step writes them to every
vault record of the category through the system actor, then to the person's rows in every
connected database whose connector can rectify (:class:`~integritet.connectors.Rectifier`:
mapped columns of that category and name, one transaction per database; rows under a legal
hold stay as booked). Writing the same values twice changes nothing, so a rerun is safe.
The step's result names tables, columns and row keys, never a value; a connector that
cannot rectify is listed for staff to correct by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integritet.connectors.base import Rectifier
from integritet.errors import RequestError
from integritet.manifest import Manifest
from integritet.requests.context import Context
from integritet.requests.lifecycle import Lifecycle
from integritet.requests.people import snapshot_of


def validate_changes(manifest: Manifest, changes: Mapping[str, Mapping[str, str]]) -> None:
    """Refuse corrections naming unknown categories or fields (ids only in the message)."""
    if not changes:
        raise RequestError("a rectification needs at least one correction (CATEGORY.FIELD=VALUE)")
    for category_id, fields in changes.items():
        known = {c.id: c for c in manifest.categories}
        if category_id not in known:
            raise RequestError(f"unknown category {category_id!r} in a correction")
        field_ids = {f.id for f in known[category_id].fields}
        for name in fields:
            if name not in field_ids:
                raise RequestError(
                    f"category {category_id!r} has no field {name!r} "
                    f"(fields: {', '.join(sorted(field_ids))})"
                )


def parse_assignments(items: list[str]) -> dict[str, dict[str, str]]:
    """``["contact.phone=+4670..."]`` -> ``{"contact": {"phone": "+4670..."}}``."""
    changes: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        category, dot, name = target.partition(".")
        if not sep or not dot or not category or not name:
            raise RequestError("write each correction as CATEGORY.FIELD=VALUE")
        changes.setdefault(category.strip(), {})[name.strip()] = value
    return changes


def apply(ctx: Context, lc: Lifecycle, request_id: str) -> dict[str, Any]:
    """Step: write the corrections to the subject's vault records and connected databases."""
    with ctx.sessions() as session:
        row = lc.load(session, request_id)
        changes: dict[str, dict[str, str]] = lc.payload(row).get("changes", {})
        identities, _ = snapshot_of(lc, row)
    datasets = apply_datasets(ctx, identities, changes)
    if row.subject_id is None:
        return {"updated": 0, "reason": "no subject in the vault", "datasets": datasets}
    updated = 0
    for category_id, fields in changes.items():
        purpose = ctx.purpose_for(category_id)
        for record in ctx.vault.records(ctx.system, purpose, row.subject_id, category_id):
            merged = {**dict(record.fields), **fields}
            if merged != dict(record.fields):
                ctx.vault.update_record(ctx.system, purpose, record.id, merged)
            updated += 1
    return {"updated": updated, "categories": sorted(changes), "datasets": datasets}


def apply_datasets(
    ctx: Context, identities: Mapping[str, str], changes: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """The corrections in each connected database (``{dataset: report}``)."""
    flat = {
        f"{cat}.{name}": value for cat, fields in changes.items() for name, value in fields.items()
    }
    out: dict[str, Any] = {}
    for dataset_id, connector in sorted(ctx.connectors.items()):
        if not identities:
            out[dataset_id] = {"skipped": "no identities"}
        elif isinstance(connector, Rectifier):
            out[dataset_id] = connector.rectify(identities, flat).as_dict()
        else:
            out[dataset_id] = {"skipped": "this connector cannot rectify: correct it by hand"}
    return out


def recipient_changes(lc: Lifecycle, row: Any) -> dict[str, Any]:
    """The corrections recipients must apply too."""
    changes: dict[str, Any] = lc.payload(row).get("changes", {})
    return changes
