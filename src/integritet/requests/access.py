"""Access (Art. 15, P7) and portability (Art. 20, P10): everything held, and how.

:func:`build_report` gathers the person's vault records (every category, read by the
system actor under a purpose allowed for that category), their rows in the connected
datasets (through the connectors), their consents when the consent ledger is wired, and
per category the purposes, legal bases, recipients, retention, legal holds and sources
from the manifest. Renderers turn it into JSON, a zip of CSV files and an HTML summary
(Swedish or English, Jinja2 templates in ``requests/templates``).

For portability only data the person provided (record source ``person``) in categories
processed on a basis in ``rights.portability_bases`` is included, machine-readable only.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.clock import utc
from integritet.manifest import Manifest
from integritet.requests.context import Context
from integritet.requests.lifecycle import Kind, Lifecycle
from integritet.requests.models import RequestRow
from integritet.requests.people import gather, vault_records


@dataclass
class Report:
    """Everything held about one person. Contains personal data: never log or store it."""

    request: str | None
    generated_at: datetime
    portability: bool
    categories: list[dict[str, Any]] = field(default_factory=list)
    datasets: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    consents: list[dict[str, Any]] = field(default_factory=list)
    disclosures: list[dict[str, Any]] = field(default_factory=list)  # who received it (15(1)(c))
    controller: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts = {c["id"]: len(c["records"]) for c in self.categories}
        for dataset, tables in self.datasets.items():
            for table, rows in tables.items():
                counts[f"{dataset}.{table}"] = len(rows)
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "generated_at": utc(self.generated_at).isoformat(),
            "kind": "portability" if self.portability else "access",
            "controller": self.controller,
            "categories": self.categories,
            "datasets": self.datasets,
            "consents": self.consents,
            "disclosures": self.disclosures,
        }


def describe_category(manifest: Manifest, category_id: str) -> dict[str, Any]:
    """What the manifest says about a category: purposes, bases, recipients, retention."""
    category = manifest.category(category_id)
    return {
        "id": category.id,
        "name": category.name.model_dump(),
        "sources": [s.value for s in category.sources],
        "purposes": [
            {
                "id": p.id,
                "name": p.name.model_dump(),
                "legal_basis": p.legal_basis.value if p.legal_basis else None,
            }
            for p in manifest.purposes
            if category_id in p.categories
        ],
        "recipients": [
            {"id": r.id, "name": r.name, "role": r.role.value, "country": r.country}
            for r in manifest.recipients
            if category_id in r.categories
        ],
        "retention": [
            {
                "rule": r.id,
                "duration": str(r.duration),
                "anchor": r.anchor.value,
                "action": r.action.value,
            }
            for r in manifest.rules_for(category_id)
        ],
        "legal_holds": [
            {"id": h.id, "duration": str(h.duration), "law": h.law, "basis": h.basis.model_dump()}
            for h in manifest.holds_for(category_id)
        ],
    }


def _described(ctx: Context, category_id: str) -> dict[str, Any]:
    """:func:`describe_category`, computed once per engine (a copy each time: the report's
    dicts are the caller's to change)."""
    described: dict[str, dict[str, Any]] = ctx.plans.setdefault("described", {})
    found = described.get(category_id)
    if found is None:
        found = described[category_id] = describe_category(ctx.manifest, category_id)
    return copy.deepcopy(found)


def portable_categories(manifest: Manifest) -> set[str]:
    """Categories processed on a basis in ``rights.portability_bases``."""
    bases = set(manifest.rights.portability_bases)
    return {c for p in manifest.purposes if p.legal_basis in bases for c in p.categories}


def _record(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "fields": dict(record.fields),
        "source": str(getattr(record.source, "value", record.source)),
        "created_at": utc(record.created_at).isoformat(),
        "policy_version": record.policy_version,
    }


def build_report(
    ctx: Context,
    subject_id: str | None,
    identities: Mapping[str, str],
    *,
    portability: bool = False,
    request: str | None = None,
    held: Mapping[str, list[Any]] | None = None,
    session: Session | None = None,
) -> Report:
    """Gather the person's data from the vault, the datasets and the consent ledger
    (``held``: the vault records per category when the caller read them already;
    ``session``: the disclosures are read in it)."""
    manifest = ctx.manifest
    report = Report(request, ctx.clock.now(), portability)
    report.controller = {
        "name": manifest.controller.name,
        "email": manifest.controller.email,
        "supervisory_authority": manifest.controller.supervisory_authority,
    }
    portable: set[str] | None = ctx.plans.get("portable")
    if portable is None:
        portable = ctx.plans["portable"] = portable_categories(manifest)
    if held is None:
        held = vault_records(ctx, subject_id, request) if subject_id else {}
    for category_id, records in held.items():
        if portability and category_id not in portable:
            continue
        rows = [_record(r) for r in records]
        if portability:
            rows = [r for r in rows if r["source"] == "person"]
        if rows:
            report.categories.append({**_described(ctx, category_id), "records": rows})
    exported: Future[dict[str, dict[str, list[dict[str, Any]]]]] | None = None
    if identities and ctx.connectors:
        # the datasets are read on another thread (their own connections) while this one
        # reads the consents and disclosures: the waits overlap
        exported = _EXPORTS.submit(_export_all, ctx, dict(identities))
    try:
        if subject_id and ctx.consent is not None and not portability:
            report.consents = [_consent(c) for c in ctx.consent.current(subject_id)]
        if subject_id and not portability:
            report.disclosures = _disclosures(ctx, subject_id, session)
    finally:
        found = exported.result() if exported is not None else {}
    for dataset_id, tables in found.items():
        if portability:
            tables = _portable_rows(manifest, dataset_id, tables, portable)
        if any(tables.values()):
            report.datasets[dataset_id] = tables
    return report


_EXPORTS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="integritet-export")


def _export_all(
    ctx: Context, identities: dict[str, str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {dataset_id: c.export(identities) for dataset_id, c in ctx.connectors.items()}


def report_for(
    ctx: Context,
    lc: Lifecycle,
    row: RequestRow,
    session: Session | None = None,
    deferred: list[Callable[[], int]] | None = None,
) -> Report:
    """The access (or portability) report of a request: one vault read (identities and
    records, one audit event), then the datasets, consents and disclosures.

    With ``session`` the vault and disclosures are read in it; with ``deferred`` too, the
    vault read's audit event is left to the caller (see :func:`people.read_held`), who must
    append it in that transaction before the report is released."""
    identities, held = gather(ctx, lc, row, session, deferred)
    return build_report(
        ctx,
        row.subject_id,
        identities,
        portability=row.kind == Kind.portability.value,
        request=row.id,
        held=held,
        session=session,
    )


def _disclosures(
    ctx: Context, subject_id: str, session: Session | None = None
) -> list[dict[str, Any]]:
    """The recipients who actually received the person's data (``integritet.disclosure``)."""
    from integritet.disclosure import DisclosureRow

    names = {r.id: r.name for r in ctx.manifest.recipients}
    query = (
        select(DisclosureRow)
        .where(DisclosureRow.subject_id == subject_id)
        .order_by(DisclosureRow.at, DisclosureRow.id)
    )
    if session is not None:
        rows = session.scalars(query).all()
    else:
        with ctx.sessions() as s:
            rows = s.scalars(query).all()
    return [
        {
            "recipient": names.get(r.recipient, r.recipient),
            "recipient_id": r.recipient,
            "categories": r.categories.split(","),
            "purpose": r.purpose,
            "at": utc(r.at).isoformat(),
            "legal_obligation": r.legal,
        }
        for r in rows
    ]


def _portable_rows(
    manifest: Manifest,
    dataset_id: str,
    tables: dict[str, list[dict[str, Any]]],
    portable: set[str],
) -> dict[str, list[dict[str, Any]]]:
    dataset = next((d for d in manifest.datasets if d.id == dataset_id), None)
    if dataset is None:
        return {}
    kept: dict[str, list[dict[str, Any]]] = {}
    for table in dataset.tables:
        person = {
            col
            for col, spec in table.columns.items()
            if spec.category in portable
            and "person" in {s.value for s in manifest.category(spec.category).sources}
        }
        rows = [{k: v for k, v in row.items() if k in person} for row in tables.get(table.name, [])]
        rows = [r for r in rows if r]
        if rows:
            kept[table.name] = rows
    return kept


def _consent(current: Any) -> dict[str, Any]:
    return {
        "purpose": current.purpose,
        "channel": current.channel,
        "state": str(getattr(current.state, "value", current.state)),
        "at": utc(current.at).isoformat() if current.at else None,
    }


# --------------------------------------------------------------------------- renderers


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def to_zip(report: Report) -> bytes:
    """One CSV per vault category and per dataset table, plus ``report.json``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for category in report.categories:
            fields = sorted({k for r in category["records"] for k in r["fields"]})
            header = ["record_id", "source", "created_at", "policy_version", *fields]
            rows = [
                [
                    r["id"],
                    r["source"],
                    r["created_at"],
                    r["policy_version"],
                    *(r["fields"].get(f, "") for f in fields),
                ]
                for r in category["records"]
            ]
            archive.writestr(f"vault/{category['id']}.csv", _csv(header, rows))
        for dataset, tables in report.datasets.items():
            for table, table_rows in tables.items():
                columns = sorted({k for r in table_rows for k in r})
                body = [[r.get(c, "") for c in columns] for r in table_rows]
                archive.writestr(f"datasets/{dataset}/{table}.csv", _csv(columns, body))
        archive.writestr("report.json", to_json(report))
    return buffer.getvalue()


_ENV = Environment(
    loader=PackageLoader("integritet.requests", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def to_html(report: Report, lang: str = "sv") -> str:
    """A readable summary in Swedish (``sv``) or English (``en``)."""
    lang = lang if lang in LABELS else "sv"
    template = _ENV.get_template("access.html")
    return template.render(report=report.as_dict(), lang=lang, t=LABELS[lang])


LABELS: dict[str, dict[str, str]] = {
    "sv": {
        "title": "Dina personuppgifter",
        "intro": "Det här är de personuppgifter {controller} har om dig, och hur de behandlas.",
        "generated": "Sammanställt",
        "purposes": "Ändamål och rättslig grund",
        "recipients": "Mottagare",
        "retention": "Lagringstid",
        "holds": "Lagstadgad lagring",
        "sources": "Källa",
        "records": "Uppgifter",
        "datasets": "Uppgifter i våra andra system",
        "consents": "Dina samtycken",
        "disclosures": "Vi har lämnat dina uppgifter till",
        "none": "Inga",
        "complaint": "Du har rätt att klaga hos {authority}.",
        "portability": "Uppgifter du själv har lämnat, i maskinläsbart format",
    },
    "en": {
        "title": "Your personal data",
        "intro": "This is the personal data {controller} holds about you, and how it is used.",
        "generated": "Generated",
        "purposes": "Purposes and legal basis",
        "recipients": "Recipients",
        "retention": "Retention",
        "holds": "Kept by law",
        "sources": "Source",
        "records": "Data",
        "datasets": "Data in our other systems",
        "consents": "Your consents",
        "disclosures": "We have disclosed your data to",
        "none": "None",
        "complaint": "You have the right to lodge a complaint with {authority}.",
        "portability": "Data you provided yourself, in a machine-readable format",
    },
}
