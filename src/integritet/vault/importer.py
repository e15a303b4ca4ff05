"""Import existing subjects from CSV or JSON lines, one all-or-nothing transaction per row.

Columns (``template_columns`` lists them for a manifest):

- identities: ``email``, ``phone``, ``personnummer``, ``customer_number``, ``external_id``;
- category fields: ``<category>.<field>`` (``contact.name``, ``sales.amount``...);
- the customer organisation: ``customer`` (name) and ``customer_org_number``;
- retention anchors: ``event.<anchor>`` (ISO 8601 timestamps), e.g. ``event.last_login``.

JSON lines use the same keys in a flat object. Each row becomes one subject with one record
per category that has values, written in a single transaction with its audit event, so a
crash never leaves a half-imported row. A row whose identity is already in the vault is
skipped (so re-running an interrupted import finishes it without duplicates). Errors name the
row number and the column, never the value.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from integritet.access import Actor
from integritet.errors import DuplicateSubject, IntegritetError, VaultError
from integritet.manifest import Manifest
from integritet.manifest.model import Anchor
from integritet.vault import faults
from integritet.vault.core import IDENTITY_KINDS, new_id, shown
from integritet.vault.store import Vault
from integritet.vault.tables import CustomerRow, EventRow, IdentityRow, SubjectRow

CUSTOMER_COLUMNS = ("customer", "customer_org_number")


def template_columns(manifest: Manifest) -> list[str]:
    """Every importable column, in a stable order."""
    columns = list(IDENTITY_KINDS)
    columns += [f"{c.id}.{f.id}" for c in manifest.categories for f in c.fields]
    columns += list(CUSTOMER_COLUMNS)
    anchors = {h.anchor.value for h in manifest.legal_holds} | {
        (r.event or r.anchor.value) if r.anchor == Anchor.custom else r.anchor.value
        for r in manifest.retention
    }
    anchors -= {Anchor.collected.value, Anchor.fiscal_year_end.value, Anchor.custom.value}
    columns += [f"event.{a}" for a in sorted(anchors)]
    return columns


@dataclass(frozen=True)
class RowError:
    row: int
    message: str


@dataclass
class ImportResult:
    imported: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, values) from a CSV file (row 1 is the header) or a JSONL file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                yield number, {"\x00error": "not valid JSON"}
                continue
            if not isinstance(data, dict):
                yield number, {"\x00error": "not a JSON object"}
                continue
            yield number, {str(k): "" if v is None else str(v) for k, v in data.items()}
        return
    reader = csv.DictReader(io.StringIO(text))
    for number, row in enumerate(reader, 2):
        if None in row:
            yield number, {"\x00error": "more values than columns"}
            continue
        yield number, {k: (v or "") for k, v in row.items() if k is not None}


def count_rows(path: Path) -> int:
    return sum(1 for _ in read_rows(path))


class Importer:
    """Imports rows into ``vault`` as ``actor`` (a system or staff actor)."""

    def __init__(self, vault: Vault, actor: Actor) -> None:
        self.vault = vault
        self.actor = actor
        self.manifest = vault.manifest
        self.columns = set(template_columns(self.manifest))

    def run(self, path: Path, progress: Callable[[int], None] | None = None) -> ImportResult:
        result = ImportResult()
        for number, row in read_rows(path):
            try:
                if self.import_row(row):
                    result.imported += 1
                else:
                    result.skipped += 1
            except IntegritetError as exc:
                result.errors.append(RowError(number, exc.message))
            if progress is not None:
                progress(1)
        return result

    def import_row(self, row: Mapping[str, str]) -> bool:
        """Import one row; False when its subject is already in the vault."""
        if "\x00error" in row:
            raise VaultError(row["\x00error"])
        unknown = sorted(k for k, v in row.items() if k not in self.columns and v.strip())
        if unknown:
            raise VaultError(f"unknown column {shown(unknown[0])}")
        identities = {k: row[k].strip() for k in IDENTITY_KINDS if row.get(k, "").strip()}
        if not identities:
            raise VaultError("no identity column (email, phone, personnummer...) has a value")
        records = self._records(row)
        events = {k[6:]: _timestamp(k, v) for k, v in row.items() if k.startswith("event.") and v}
        v = self.vault
        purposes = {cat: self._purpose(cat) for cat in records}
        with v.tx() as s:
            for kind, value in identities.items():
                found = s.scalar(
                    select(IdentityRow.subject_id).where(
                        IdentityRow.kind == kind, IdentityRow.digest == v.digest(kind, value)
                    )
                )
                if found is not None:
                    return False
            customer = self._customer(s, row)
            subject = SubjectRow(
                id=new_id(),
                customer_id=customer,
                source="customer" if customer else "person",
                created_at=v.now(),
                restricted=False,
            )
            s.add(subject)
            s.flush()
            dek = v.key(s, subject, "dek", create=True)
            try:
                for kind, value in identities.items():
                    v.set_identity(s, subject, dek, kind, value)
            except DuplicateSubject:
                raise VaultError("two identity columns point at different subjects") from None
            for category, fields in records.items():
                spec = self.manifest.category(category)
                v.insert_record(s, subject, spec, fields, spec.sources[0].value)
            for name, at in events.items():
                s.add(EventRow(subject_id=subject.id, event=name, at=at))
            v.emit(
                s,
                self.actor,
                "vault.import",
                "done",
                subject=subject,
                purpose=next(iter(purposes.values()), None),
                detail={"categories": ",".join(sorted(records)), "events": len(events)},
            )
        faults.point("import.row_committed")
        return True

    def _records(self, row: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        for key, value in row.items():
            if "." in key and not key.startswith("event.") and value.strip():
                category, name = key.split(".", 1)
                records.setdefault(category, {})[name] = value.strip()
        return records

    def _purpose(self, category: str) -> str:
        for purpose in self.manifest.purposes:
            if category in purpose.categories:
                self.vault.guard(
                    self.actor, "vault.import", "write", purpose=purpose.id, category=category
                )
                return purpose.id
        raise VaultError(f"no purpose in the manifest may use category {category!r}")

    def _customer(self, s: Any, row: Mapping[str, str]) -> str | None:
        name = row.get("customer", "").strip()
        org = row.get("customer_org_number", "").strip()
        if not name and not org:
            return None
        digest = self.vault.digest("org_number", org) if org else None
        if digest is not None:
            found = s.scalar(select(CustomerRow.id).where(CustomerRow.org_index == digest))
            if found is not None:
                return str(found)
        elif name:
            found = s.scalar(select(CustomerRow.id).where(CustomerRow.name == name).limit(1))
            if found is not None:
                return str(found)
        cid = new_id()
        s.add(CustomerRow(id=cid, name=name or "-", org_index=digest, created_at=self.vault.now()))
        s.flush()
        return cid


def _timestamp(column: str, value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise VaultError(f"column {column!r} is not an ISO 8601 date or time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
