"""Import existing subjects from CSV or JSON lines, in all-or-nothing batches of rows.

Columns (``template_columns`` lists them for a manifest):

- identities: ``email``, ``phone``, ``personnummer``, ``customer_number``, ``external_id``;
- category fields: ``<category>.<field>`` (``contact.name``, ``sales.amount``...);
- the customer organisation: ``customer`` (name) and ``customer_org_number``;
- retention anchors: ``event.<anchor>`` (ISO 8601 timestamps), e.g. ``event.last_login``.

JSON lines use the same keys in a flat object. Each row becomes one subject with one record
per category that has values. Rows are validated first (no database), then written
``BATCH`` at a time: one transaction per batch with multi-row inserts and one audit event
with counts, so a crash never leaves a half-imported row. A batch the database refuses
(e.g. a concurrent writer took an identity) is redone row by row, one transaction and audit
event each, so the error names its row. A row whose identity is already in the vault (or
earlier in the file) is skipped, so re-running an interrupted import finishes it without
duplicates. Errors name the row number and the column, never the value.

Storage residency (V8/J14, :mod:`integritet.residency`) is checked once per batch: the
batch's customers are looked up (not created) and :meth:`Residency.refusals` judges each
distinct (customer, category); a row that may not be written at this node's location
(``INTEGRITET_LOCATION``) is reported with its row number and not written, the others are
imported, and the batch's refusals are audited as one ``residency.write`` / ``denied``
event with the count.
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

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.errors import DuplicateSubject, IntegritetError, ResidencyError, VaultError
from integritet.manifest import Manifest
from integritet.manifest.model import Anchor
from integritet.residency import Residency
from integritet.vault import crypto, faults
from integritet.vault.core import CHUNK, IDENTITY_KINDS, new_id, shown, tx_keys
from integritet.vault.store import Vault
from integritet.vault.tables import (
    CustomerRow,
    EventRow,
    IdentityRow,
    KeyRow,
    RecordRow,
    SubjectRow,
    table,
)

CUSTOMER_COLUMNS = ("customer", "customer_org_number")
BATCH = 500  # rows per transaction


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
class _Row:
    """A validated row: identity values and their blind-index digests, records, events."""

    identities: dict[str, str]
    digests: dict[str, bytes]
    records: dict[str, dict[str, Any]]
    events: dict[str, datetime]
    purpose: str | None
    customer: tuple[str, str]  # (name, org number), both may be empty

    @property
    def digest_keys(self) -> set[tuple[str, bytes]]:
        return set(self.digests.items())


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

    def __init__(self, vault: Vault, actor: Actor, *, here: str | None = None) -> None:
        """``here``: the node's location (default ``INTEGRITET_LOCATION``)."""
        self.vault = vault
        self.actor = actor
        self.manifest = vault.manifest
        self.residency = Residency(vault, vault.manifest, vault.clock, here=here)
        self.columns = set(template_columns(self.manifest))
        self._purposes: dict[str, str] = {}  # category -> purpose, once access was checked

    def run(
        self,
        path: Path,
        progress: Callable[[int], None] | None = None,
        *,
        batch: int = BATCH,
    ) -> ImportResult:
        """Import every row, ``batch`` rows per transaction (see :meth:`import_batch`)."""
        result = ImportResult()
        pending: list[tuple[int, _Row]] = []
        for number, row in read_rows(path):
            try:
                pending.append((number, self._prepare(row)))
            except IntegritetError as exc:
                result.errors.append(RowError(number, exc.message))
                if progress is not None:
                    progress(1)
            if len(pending) >= batch:
                self._flush(pending, result, progress)
                pending = []
        self._flush(pending, result, progress)
        result.errors.sort(key=lambda e: e.row)
        return result

    def _flush(
        self,
        pending: list[tuple[int, _Row]],
        result: ImportResult,
        progress: Callable[[int], None] | None,
    ) -> None:
        if not pending:
            return
        refused = self._refused(pending)
        if refused:
            result.errors += [RowError(n, refused[n]) for n, _ in pending if n in refused]
            if progress is not None:
                progress(len(refused))
            pending = [(n, row) for n, row in pending if n not in refused]
            if not pending:
                return
        try:
            imported, skipped = self.import_batch([row for _, row in pending])
        except (IntegrityError, IntegritetError):  # e.g. a concurrent writer took an identity
            # redo this batch row by row, so the error is reported against its row
            imported = skipped = 0
            for number, row in pending:
                try:
                    if self._import_one(row):
                        imported += 1
                    else:
                        skipped += 1
                except IntegritetError as exc:
                    result.errors.append(RowError(number, exc.message))
        result.imported += imported
        result.skipped += skipped
        if progress is not None:
            progress(len(pending))

    def import_row(self, row: Mapping[str, str]) -> bool:
        """Import one row in its own transaction; False when its subject is already there.
        :class:`ResidencyError` when the row may not be written at this location."""
        prepared = self._prepare(row)
        refused = self._refused([(1, prepared)])
        if refused:
            raise ResidencyError(refused[1])
        return self._import_one(prepared)

    def _refused(self, pending: list[tuple[int, _Row]]) -> dict[int, str]:
        """Row number -> why the row may not be written here (V8/J14), checked once per
        batch; the refusals are audited as one event with their count."""
        customers: dict[tuple[str, str], str | None] = {}
        if self.residency.by_customer:
            with self.vault.tx() as s:
                for key in dict.fromkeys(row.customer for _, row in pending):
                    customers[key] = self._find_customer(s, key)
        writes = {
            n: [(customers.get(row.customer), None)]
            + [(customers.get(row.customer), c) for c in row.records]
            for n, row in pending
        }
        reasons = self.residency.refusals(w for ws in writes.values() for w in ws)
        if not reasons:
            return {}
        refused = {
            n: next(reasons[w] for w in ws if w in reasons)
            for n, ws in writes.items()
            if any(w in reasons for w in ws)
        }
        purpose = next((r.purpose for n, r in pending if n in refused and r.purpose), None)
        self.residency.audit_refused(
            self.actor, purpose, next(iter(refused.values())), len(refused)
        )
        return refused

    def _prepare(self, row: Mapping[str, str]) -> _Row:
        """Validate a row and split it into identities, records, events (no database)."""
        if "\x00error" in row:
            raise VaultError(row["\x00error"])
        unknown = sorted(k for k, v in row.items() if k not in self.columns and v.strip())
        if unknown:
            raise VaultError(f"unknown column {shown(unknown[0])}")
        identities = {k: row[k].strip() for k in IDENTITY_KINDS if row.get(k, "").strip()}
        if not identities:
            raise VaultError("no identity column (email, phone, personnummer...) has a value")
        records = self._records(row)
        for category, fields in records.items():
            self.vault.check_record(category, fields, self._source(category))
        events = {k[6:]: _timestamp(k, v) for k, v in row.items() if k.startswith("event.") and v}
        purpose = next((self._purpose(cat) for cat in records), None)
        digests = {k: self.vault.digest(k, v) for k, v in identities.items()}
        if len(set(digests.values())) < len(digests):
            raise VaultError("two identity columns hold the same value")
        customer = (row.get("customer", "").strip(), row.get("customer_org_number", "").strip())
        return _Row(identities, digests, records, events, purpose, customer)

    def _import_one(self, row: _Row) -> bool:
        v = self.vault
        with v.tx() as s:
            if self._known(s, [row]):
                return False
            subject = self._new_subject(s, row, {})
            s.add(subject)
            s.flush()
            dek = v.key(s, subject, "dek", create=True)
            try:
                for kind, value in row.identities.items():
                    v.set_identity(s, subject, dek, kind, value)
            except DuplicateSubject:
                raise VaultError("two identity columns point at different subjects") from None
            for category, fields in row.records.items():
                spec = self.manifest.category(category)
                v.insert_record(s, subject, spec, fields, self._source(category))
            for name, at in row.events.items():
                s.add(EventRow(subject_id=subject.id, event=name, at=at))
            v.emit(
                s,
                self.actor,
                "vault.import",
                "done",
                subject=subject,
                purpose=row.purpose,
                detail={"categories": ",".join(sorted(row.records)), "events": len(row.events)},
            )
        faults.point("import.row_committed")
        return True

    def import_batch(self, rows: list[_Row]) -> tuple[int, int]:
        """Import prepared rows in one transaction with bulk inserts and one audit event;
        returns (imported, skipped). Rows whose identity is in the vault (or earlier in the
        batch) are skipped, so a rerun after a crash finishes the job."""
        v = self.vault
        with v.tx() as s:
            known = self._known(s, rows)
            fresh: list[_Row] = []
            for row in rows:
                if known.isdisjoint(row.digest_keys):
                    fresh.append(row)
                    known |= row.digest_keys
            customers: dict[tuple[str, str], str | None] = {}
            subjects = [self._new_subject(s, row, customers) for row in fresh]
            records = self._insert_subjects(s, fresh, subjects) if fresh else 0
            v.emit(
                s,
                self.actor,
                "vault.import",
                "done",
                purpose=next((r.purpose for r in fresh if r.purpose), None),
                detail={
                    "subjects": len(fresh),
                    "records": records,
                    "categories": ",".join(sorted({c for r in fresh for c in r.records})),
                    "events": sum(len(r.events) for r in fresh),
                },
            )
        faults.point("import.batch_committed")
        return len(fresh), len(rows) - len(fresh)

    def _insert_subjects(self, s: Session, rows: list[_Row], subjects: list[SubjectRow]) -> int:
        """Bulk-insert subjects, keys, identities, events, then the sealed records."""
        v, now, cache = self.vault, self.vault.now(), tx_keys(s)
        keys, identities, events = [], [], []
        for row, subject in zip(rows, subjects, strict=True):
            dek, key_id = crypto.new_key(), f"{subject.id}:dek"
            wrapped, kek = v.keyring.wrap(dek, key_id)
            cache[key_id] = dek
            keys.append(_key_values(key_id, subject.id, wrapped, kek, now))
            for kind, value in row.identities.items():
                aad = crypto.identity_aad(subject.customer_id, subject.id, kind)
                identities.append(
                    {
                        "subject_id": subject.id,
                        "kind": kind,
                        "digest": row.digests[kind],
                        "sealed": crypto.seal(dek, value.encode(), aad),
                    }
                )
            events += [
                {"subject_id": subject.id, "event": k, "at": a} for k, a in row.events.items()
            ]
        s.execute(insert(table(SubjectRow)), [_subject_values(x) for x in subjects])
        s.execute(insert(table(KeyRow)), keys)
        s.execute(insert(table(IdentityRow)), identities)
        if events:
            s.execute(insert(table(EventRow)), events)
        records = [
            v.record_values(s, subject, self.manifest.category(cat), fields, self._source(cat))
            for row, subject in zip(rows, subjects, strict=True)
            for cat, fields in row.records.items()
        ]
        if records:
            s.execute(insert(table(RecordRow)), records)
        return len(records)

    def _known(self, s: Session, rows: list[_Row]) -> set[tuple[str, bytes]]:
        """The (kind, digest) pairs of ``rows`` already in the vault."""
        pairs = list({p for r in rows for p in r.digest_keys})
        found: set[tuple[str, bytes]] = set()
        for start in range(0, len(pairs), CHUNK):
            digests = [d for _, d in pairs[start : start + CHUNK]]
            hits = s.execute(
                select(IdentityRow.kind, IdentityRow.digest).where(IdentityRow.digest.in_(digests))
            )
            found.update((str(k), bytes(d)) for k, d in hits)
        return found

    def _new_subject(
        self, s: Session, row: _Row, customers: dict[tuple[str, str], str | None]
    ) -> SubjectRow:
        """A subject row for ``row`` (not added to ``s``); creates its customer if new."""
        if row.customer not in customers:
            customers[row.customer] = self._customer(s, row.customer)
        customer = customers[row.customer]
        return SubjectRow(
            id=new_id(),
            customer_id=customer,
            source="customer" if customer else "person",
            created_at=self.vault.now(),
            restricted=False,
            restricted_reason=None,
            erased_at=None,
        )

    def _source(self, category: str) -> str:
        return self.manifest.category(category).sources[0].value

    def _records(self, row: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        records: dict[str, dict[str, Any]] = {}
        for key, value in row.items():
            if "." in key and not key.startswith("event.") and value.strip():
                category, name = key.split(".", 1)
                records.setdefault(category, {})[name] = value.strip()
        return records

    def _purpose(self, category: str) -> str:
        if category in self._purposes:
            return self._purposes[category]
        for purpose in self.manifest.purposes:
            if category in purpose.categories:
                self.vault.guard(
                    self.actor, "vault.import", "write", purpose=purpose.id, category=category
                )
                self._purposes[category] = purpose.id
                return purpose.id
        raise VaultError(f"no purpose in the manifest may use category {category!r}")

    def _find_customer(self, s: Session, customer: tuple[str, str]) -> str | None:
        """The id of the existing customer (by org number, else name), or None."""
        name, org = customer
        if org:
            digest = self.vault.digest("org_number", org)
            found = s.scalar(select(CustomerRow.id).where(CustomerRow.org_index == digest))
        elif name:
            found = s.scalar(select(CustomerRow.id).where(CustomerRow.name == name).limit(1))
        else:
            return None
        return None if found is None else str(found)

    def _customer(self, s: Session, customer: tuple[str, str]) -> str | None:
        name, org = customer
        if not name and not org:
            return None
        found = self._find_customer(s, customer)
        if found is not None:
            return found
        digest = self.vault.digest("org_number", org) if org else None
        cid = new_id()
        s.add(CustomerRow(id=cid, name=name or "-", org_index=digest, created_at=self.vault.now()))
        s.flush()
        return cid


def _subject_values(row: SubjectRow) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in SubjectRow.__table__.columns}


def _key_values(key_id: str, sid: str, wrapped: bytes, kek: str, now: datetime) -> dict[str, Any]:
    return {
        "id": key_id,
        "subject_id": sid,
        "kind": "dek",
        "wrapped": wrapped,
        "kek_id": kek,
        "destroy_after": None,
        "created_at": now,
    }


def _timestamp(column: str, value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise VaultError(f"column {column!r} is not an ISO 8601 date or time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
