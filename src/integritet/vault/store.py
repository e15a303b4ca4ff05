"""The vault's public class: records per category, sealed under per-subject keys.

``Vault`` = the core (subjects, identities, restriction, events; :mod:`.core`) + erasure
(:mod:`.erasure`) + the record operations here. Each record's fields are one AES-256-GCM
blob whose AAD binds tenant, subject, category and record id. Categories under a legal
hold (``legal_holds`` in the manifest) are sealed under the subject's hold key for that
hold instead of the DEK, with ``hold_until`` computed from the hold's anchor and duration.
Fields marked ``identity`` in the manifest also update the blind index, so a corrected
email is found under the new address (V4, L11).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from integritet import residency
from integritet.access import Actor
from integritet.errors import AccessDenied, KeyDestroyed, NotFound, VaultError
from integritet.manifest.model import Anchor, Category, LegalHold
from integritet.vault import batch, crypto
from integritet.vault.core import (
    NewRecord,
    Record,
    Subject,
    SubjectRef,
    new_id,
    own_rights,
    shown,
    tx_keys,
)
from integritet.vault.erasure import ErasureMixin
from integritet.vault.tables import EventRow, KeyRow, RecordRow, SubjectRow, table


class Vault(ErasureMixin):
    """The personal-data store. Build it with :func:`integritet.vault.open_vault`."""

    def put_record(
        self,
        actor: Actor,
        purpose: str,
        subject_id: str,
        category: str,
        fields: Mapping[str, Any],
        source: str,
    ) -> str:
        """Store a new record; returns its id. Records the policy version in force (V5)."""
        spec = self.check_record(category, fields, source)
        with self.tx() as s:
            subject = self._read_subject(s, subject_id)  # with its DEK, one query
            self.guard(
                actor, "vault.write", "write", purpose=purpose, category=category, subject=subject
            )
            values = self.record_values(s, subject, spec, fields, source)
            s.connection().execute(insert(table(RecordRow)), [values])
            rid = str(values["id"])
            self.emit(
                s,
                actor,
                "vault.write",
                "done",
                purpose=purpose,
                subject=subject,
                detail={"category": category, "record": rid, "source": source},
            )
        return rid

    def put_records(self, actor: Actor, purpose: str, items: Iterable[NewRecord]) -> list[str]:
        """Store many records in one transaction; returns their ids in order.

        All or nothing. Subjects and their wrapped DEKs are loaded with one joined query per
        500, each DEK is unwrapped once and its AES-GCM object reused for the batch, rows are
        inserted with one multi-row statement (:mod:`.batch`), and the batch is audited as one
        ``vault.write`` event with counts (the subject is named when the batch has only one).
        Access is checked once per subject and category. Every record still has its own
        nonce and AAD (tenant, subject, category, record id) under its subject's own key.
        """
        todo = list(items)
        if not todo:
            return []
        plans = self._plans(todo)
        with residency.audited_batch(self, actor, purpose), self.tx() as s:
            subjects = self._load_subjects(s, (i.subject_id for i in todo))
            for sid in dict.fromkeys(i.subject_id for i in todo):
                if sid not in subjects:
                    self.subject_row(s, sid)  # raises NotFound or KeyDestroyed
            residency.check_batch(self, s, todo, subjects)  # V8/J14, once per batch
            for sid, category in dict.fromkeys((i.subject_id, i.category) for i in todo):
                self.guard(
                    actor,
                    "vault.write",
                    "write",
                    purpose=purpose,
                    category=category,
                    subject=subjects[sid],
                )
            rows = self._seal_rows(s, todo, plans, subjects)
            s.connection().execute(insert(table(RecordRow)), rows)
            self.emit(
                s,
                actor,
                "vault.write",
                "done",
                purpose=purpose,
                subject=next(iter(subjects.values())) if len(subjects) == 1 else None,
                detail={
                    "records": len(rows),
                    "subjects": len(subjects),
                    "categories": ",".join(sorted(plans)),
                },
            )
        return [str(r["id"]) for r in rows]

    def _load_subjects(self, s: Session, subject_ids: Iterable[str]) -> dict[str, SubjectRef]:
        """The batch's subjects, their wrapped DEKs unwrapped into the transaction's key
        cache (one joined query per 500); missing subjects are absent."""
        return batch.load_subjects(s, self.keyring, subject_ids, "dek", tx_keys(s))

    def _seal_rows(
        self,
        s: Session,
        todo: list[NewRecord],
        plans: dict[str, batch.Plan],
        subjects: dict[str, SubjectRef],
    ) -> list[dict[str, Any]]:
        """The sealed rows of a batch, in order (see :func:`batch.seal_rows`)."""
        return batch.seal_rows(
            todo,
            plans,
            subjects,
            tx_keys(s),
            (self.now(), self.manifest.policy.version),
            lambda item, plan, subject: self.record_values(
                s, subject, plan.spec, item.fields, item.source
            ),
        )

    def _plans(self, todo: list[NewRecord]) -> dict[str, batch.Plan]:
        """One :class:`batch.Plan` per category of the batch, once every item fits its own
        (a field or source that does not fit is checked in full and raises VaultError)."""
        plans: dict[str, batch.Plan] = {}
        for item in todo:
            plan = plans.get(item.category)
            if plan is None:
                spec = self._category(item.category)
                plan = plans[item.category] = batch.Plan.of(spec, self._hold(spec.id) is not None)
            if not plan.fits(item):
                self.check_record(item.category, item.fields, item.source)
        return plans

    def insert_record(
        self,
        s: Session,
        subject: SubjectRow,
        spec: Category,
        fields: Mapping[str, Any],
        source: str,
    ) -> str:
        """Seal and add one record in ``s`` (no checks, no audit: callers do both)."""
        values = self.record_values(s, subject, spec, fields, source)
        s.add(RecordRow(**values))
        return str(values["id"])

    def record_values(
        self,
        s: Session,
        subject: Subject,
        spec: Category,
        fields: Mapping[str, Any],
        source: str,
    ) -> dict[str, Any]:
        """The sealed row of a new record, as column values for a (bulk) insert; updates the
        blind index for identity fields and the hold key's destroy-after date in ``s``."""
        if subject.erased_at is not None:
            raise KeyDestroyed(f"subject {subject.id} was erased; nothing can be added")
        now = self.now()
        rid = new_id()
        hold = self._hold(spec.id)
        key_ref = f"hold:{hold.id}" if hold else "dek"
        until = self._hold_until(s, subject.id, hold, now) if hold else None
        key = self.key(s, subject, key_ref, create=hold is not None)
        if hold is not None and until is not None:
            self._extend_hold_key(s, subject.id, key_ref, until)
        sealed = crypto.seal_fields(
            key, fields, crypto.record_aad(subject.customer_id, subject.id, spec.id, rid)
        )
        self._sync_identities(s, subject, spec, fields)
        return {
            "id": rid,
            "subject_id": subject.id,
            "category": spec.id,
            "source": source,
            "key_ref": key_ref,
            "sealed": sealed,
            "policy_version": self.manifest.policy.version,
            "created_at": now,
            "updated_at": now,
            "hold_until": until,
        }

    def records(
        self,
        actor: Actor,
        purpose: str,
        subject_id: str,
        category: str | None = None,
        *,
        rights_request: str | None = None,
    ) -> list[Record]:
        """The subject's records (of one category, or of every category the actor may read
        for this purpose). ``rights_request``: the request engine answering the person's own
        request may read a restricted subject (Art. 18(2); see :meth:`guard`)."""
        own = rights_request
        with self.tx() as s:
            subject = self._read_subject(s, subject_id)
            if category is not None:
                self._category(category)
                self.guard(
                    actor,
                    "vault.read",
                    "read",
                    purpose=purpose,
                    category=category,
                    subject=subject,
                    rights_request=own,
                )
                if subject.erased_at is not None and self._hold(category) is None:
                    raise KeyDestroyed(f"subject {subject_id} was erased; its keys are destroyed")
                cats = [category]
            else:
                self.guard(
                    actor,
                    "vault.read",
                    "read",
                    purpose=purpose,
                    subject=subject,
                    rights_request=own,
                )
                cats = self._readable(actor, purpose, subject)
            rows = s.connection().execute(_RECORDS, {"subject": subject_id, "categories": cats})
            out = self._open(s, subject, rows)
            self.emit(
                s,
                actor,
                "vault.read",
                "allowed",
                purpose=purpose,
                subject=subject,
                detail={
                    "category": category or "*",
                    "records": len(out),
                    **own_rights(subject, own),
                },
            )
        return out

    def record(self, actor: Actor, purpose: str, record_id: str) -> Record:
        """One record by id."""
        with self.tx() as s:
            row = s.get(RecordRow, record_id)
            if row is None:
                raise NotFound(f"no record {record_id}")
            subject_id = row.subject_id
        found = [
            r for r in self.records(actor, purpose, subject_id, row.category) if r.id == record_id
        ]
        if not found:
            raise NotFound(f"no record {record_id}")
        return found[0]

    def update_record(
        self, actor: Actor, purpose: str, record_id: str, fields: Mapping[str, Any]
    ) -> None:
        """Change fields of a record (rectification); the others stay as they were."""
        with self.tx() as s:
            row = s.get(RecordRow, record_id)
            if row is None:
                raise NotFound(f"no record {record_id}")
            spec = self._category(row.category)
            _check_fields(spec, fields)
            subject = self.subject_row(s, row.subject_id)
            self.guard(
                actor,
                "vault.update",
                "write",
                purpose=purpose,
                category=row.category,
                subject=subject,
            )
            key = self.key(s, subject, row.key_ref)
            aad = crypto.record_aad(subject.customer_id, subject.id, row.category, row.id)
            merged = {**crypto.open_fields(key, row.sealed, aad), **fields}
            row.sealed = crypto.seal_fields(key, merged, aad)
            row.updated_at = self.now()
            self._sync_identities(s, subject, spec, fields)
            self.emit(
                s,
                actor,
                "vault.update",
                "done",
                purpose=purpose,
                subject=subject,
                detail={
                    "category": row.category,
                    "record": row.id,
                    "fields": ",".join(sorted(fields)),
                },
            )

    # ------------------------------------------------------------------ internals

    def check_record(self, category: str, fields: Mapping[str, Any], source: str) -> Category:
        """The category's spec, once ``fields`` and ``source`` fit it (else VaultError)."""
        spec = self._category(category)
        _check_fields(spec, fields)
        if source not in {s.value for s in spec.sources}:
            raise VaultError(f"source {source!r} is not declared for category {category!r}")
        return spec

    def _category(self, category: str) -> Category:
        try:
            return self.manifest.category(category)
        except NotFound:
            raise VaultError(f"category {category!r} is not declared in the manifest") from None

    def _hold(self, category: str) -> LegalHold | None:
        holds = self.manifest.holds_for(category)
        return max(holds, key=lambda h: h.duration.approx_days()) if holds else None

    def _hold_until(self, s: Session, subject_id: str, hold: LegalHold, now: datetime) -> datetime:
        if hold.anchor == Anchor.fiscal_year_end:
            start = datetime(now.year, 12, 31, 23, 59, 59, tzinfo=UTC)
        elif hold.anchor == Anchor.collected:
            start = now
        else:
            event = s.get(EventRow, (subject_id, hold.anchor.value))
            start = _aware(event.at) if event is not None else now
        return hold.duration.after(start)

    def _extend_hold_key(self, s: Session, subject_id: str, key_ref: str, until: datetime) -> None:
        row = s.get(KeyRow, f"{subject_id}:{key_ref}")
        if row is not None and (row.destroy_after is None or _aware(row.destroy_after) < until):
            row.destroy_after = until

    def _readable(self, actor: Actor, purpose: str, subject: Subject) -> list[str]:
        cats = []
        for c in self.manifest.categories:
            if subject.erased_at is not None and self._hold(c.id) is None:
                continue
            try:
                self.access.check(
                    actor,
                    purpose,
                    c.id,
                    "read",
                    subject_customer=subject.customer_id,
                    subject=subject.id,
                )
            except AccessDenied:
                continue
            cats.append(c.id)
        return cats

    def _open(self, s: Session, subject: Subject, rows: Iterable[Any]) -> list[Record]:
        """Decrypt the rows of :data:`_RECORDS` (one AES-GCM object per key of the subject)."""
        ciphers: dict[str, AESGCM] = {}  # one per key of the subject (DEK, hold keys)
        out = []
        for row in rows:
            aead = ciphers.get(row.key_ref)
            if aead is None:
                aead = ciphers[row.key_ref] = crypto.cipher(self.key(s, subject, row.key_ref))
            aad = crypto.record_aad(subject.customer_id, subject.id, row.category, row.id)
            out.append(
                Record(
                    id=row.id,
                    subject_id=row.subject_id,
                    category=row.category,
                    fields=crypto.open_fields_with(aead, row.sealed, aad),
                    source=row.source,
                    created_at=_aware(row.created_at),
                    policy_version=row.policy_version,
                    hold_until=_aware(row.hold_until) if row.hold_until else None,
                )
            )
        return out

    def _sync_identities(
        self, s: Session, subject: Subject, spec: Category, fields: Mapping[str, Any]
    ) -> None:
        marked = {f.id: f.identity for f in spec.fields if f.identity}
        if not marked:
            return
        wanted = {
            marked[k]: v
            for k, v in fields.items()
            if k in marked and isinstance(v, str) and v.strip()
        }
        if not wanted:
            return
        dek = self.key(s, subject, "dek")
        for kind, value in wanted.items():
            if kind is not None:
                self.set_identity(s, subject, dek, kind, value)


# The read path's Core statement (no ORM objects): the columns of a subject's records that
# a Record needs (the subject and its DEK come from VaultCore._read_subject).
_RECORDS = (
    select(
        RecordRow.id,
        RecordRow.subject_id,
        RecordRow.category,
        RecordRow.source,
        RecordRow.key_ref,
        RecordRow.sealed,
        RecordRow.created_at,
        RecordRow.policy_version,
        RecordRow.hold_until,
    )
    .where(
        RecordRow.subject_id == bindparam("subject"),
        RecordRow.category.in_(bindparam("categories", expanding=True)),
    )
    .order_by(RecordRow.created_at, RecordRow.id)
)


def _check_fields(spec: Category, fields: Mapping[str, Any]) -> None:
    known = {f.id for f in spec.fields}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise VaultError(
            f"category {spec.id!r} has no field {shown(unknown[0])}; fields: {sorted(known)}"
        )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
