"""Erasure by key destruction, legal holds, and the replayable erasure ledger.

Erasing a subject, in one database transaction: delete the subject's DEK (crypto-shredding:
anything sealed under it, including copies in old backups, can no longer be opened), its
identities (blind-index entries), events and records; keep records of legal-hold categories
under their hold key until the hold's destroy-after date (the subject row stays as a
tombstone meanwhile); append a ledger row and an audit event.

The ledger also lives outside the database, as an append-only JSON-lines file
(``$INTEGRITET_HOME/erasure-ledger.jsonl``) written and fsynced *before* the transaction
commits (write-ahead: a crash in between leaves an intent that replay completes).
After restoring a database backup, ``integritet vault replay-erasures`` reads the file
and erases again everyone erased since the backup was taken.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    any_,
    bindparam,
    cast,
    delete,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.clock import utc
from integritet.errors import AccessDenied, NotFound, VaultError
from integritet.vault import faults
from integritet.vault.core import VaultCore, forget_keys
from integritet.vault.tables import (
    ErasureRow,
    EventRow,
    IdentityRow,
    KeyRow,
    RecordRow,
    SubjectRow,
)

LEDGER_NAME = "erasure-ledger.jsonl"
Deleted = tuple[str, str, str]  # (record id, subject id, category) of a deleted record
ID_CHUNK = 10_000  # ids per DELETE statement (SQLite allows 32,766 parameters)
# (id, subject, category, created_at, hold_until, restricted, deleted) of a scanned candidate
Scanned = tuple[str, str, str, datetime, datetime | None, bool, bool]

# One block range of the heap: at most :size candidates (subjects probed by primary key, no
# hash of the whole subject table; the TID range scan reads the range in heap order and a
# bounded top-N sort cuts it at :size), then the DELETE by ctid of the due ones (a TID
# scan), the conditions re-checked on the row itself.
_TID_RANGE_SWEEP = """
WITH c AS MATERIALIZED (
    SELECT r.ctid AS tid, r.id, r.subject_id, r.category, r.created_at, r.hold_until,
           s.restricted
    FROM vault_records r
    CROSS JOIN LATERAL (
        SELECT vs.restricted FROM vault_subjects vs
        WHERE vs.id = r.subject_id AND vs.erased_at IS NULL
        OFFSET 0
    ) s
    WHERE r.ctid > CAST(:lo AS tid) AND r.ctid < CAST(:hi AS tid)
      AND r.category = ANY(CAST(:cats AS varchar[]))
      AND r.created_at <= :never
    ORDER BY r.ctid
    LIMIT :size
), gone AS (
    DELETE FROM vault_records r
    WHERE r.ctid = ANY(ARRAY(
            SELECT c.tid FROM c
            WHERE c.restricted IS FALSE AND c.created_at <= :surely
              AND (c.hold_until IS NULL OR c.hold_until <= :unheld_at)))
      AND r.category = ANY(CAST(:cats AS varchar[]))
      AND r.created_at <= :surely
      AND (r.hold_until IS NULL OR r.hold_until <= :unheld_at)
      AND NOT (r.key_ref LIKE 'hold:%' AND r.hold_until > :now)
    RETURNING r.id
)
SELECT c.id, c.subject_id, c.category, c.created_at, c.hold_until, c.restricted,
       g.id IS NOT NULL, (SELECT CAST(max(m.tid) AS text) FROM c m)
FROM c LEFT JOIN gone g ON g.id = c.id
"""


def ids_in(column: SQLColumnExpression[str], ids: list[str], dialect: str) -> ColumnElement[bool]:
    """``column IN (ids)``; on PostgreSQL ``column = ANY(:array)``, one parameter instead of
    thousands (the statement is parsed and planned once, not once per list length)."""
    if dialect == "postgresql":
        return column == any_(cast(bindparam(None, ids, ARRAY(String)), ARRAY(String)))
    return column.in_(ids)


class _Refused(Exception):
    """An access check refused (subject, category) inside a transaction: roll back first."""

    def __init__(self, subject_id: str | None, category: str) -> None:
        super().__init__(category)
        self.subject_id, self.category = subject_id, category


@dataclass(frozen=True)
class KeptRecord:
    """A record kept under a legal hold after erasure."""

    record_id: str
    category: str
    hold_id: str
    until: datetime


@dataclass(frozen=True)
class ErasureResult:
    subject_id: str
    erased_categories: tuple[str, ...]
    kept: tuple[KeptRecord, ...]
    audit_position: int | None
    already_erased: bool = False


@dataclass(frozen=True)
class LedgerEntry:
    """One erasure: a whole subject, some categories of one, or (``records``) a batch of
    records deleted by a retention ``rule`` (then ``subject_id`` is empty, categories ())."""

    subject_id: str
    categories: tuple[str, ...] | None  # None: the whole subject
    at: datetime
    records: tuple[str, ...] = ()
    rule: str | None = None

    def to_json(self) -> str:
        cats = list(self.categories) if self.categories is not None else None
        data: dict[str, object] = {
            "subject": self.subject_id,
            "categories": cats,
            "at": self.at.isoformat(),
        }
        if self.records:
            data["records"], data["rule"] = list(self.records), self.rule
        return json.dumps(data, separators=(",", ":"))


@dataclass(frozen=True)
class ReplayResult:
    entries: int
    erased_subjects: int
    erased_records: int


def append_ledger(path: Path, *entries: LedgerEntry) -> None:
    """Append one line per entry with one write and one fsync (the file is created 0600)."""
    lines = "".join(entry.to_json() + "\n" for entry in entries)
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_ledger(path: Path) -> Iterator[LedgerEntry]:
    """Entries of the ledger file; a torn last line (crash mid-write) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                cats = data["categories"]
                yield LedgerEntry(
                    str(data["subject"]),
                    tuple(cats) if cats is not None else None,
                    utc(datetime.fromisoformat(data["at"])),
                    tuple(str(r) for r in data.get("records") or ()),
                    data.get("rule"),
                )
            except (ValueError, KeyError, TypeError):
                if line.endswith("\n"):
                    raise VaultError(f"erasure ledger {path} line {number} is damaged") from None


class ErasureMixin(VaultCore):
    """Erasure operations of :class:`~integritet.vault.Vault`."""

    def erase(self, actor: Actor, purpose: str, subject_id: str) -> ErasureResult:
        """Erase the subject: destroy keys, delete rows and blind index; keep legal holds."""
        with self.tx() as s:
            subject = s.get(SubjectRow, subject_id)
            if subject is None and not self.was_erased(s, subject_id):
                raise NotFound(f"no subject {subject_id}")
        self.guard(actor, "vault.erase", "erase", purpose=purpose, subject=subject)
        if subject is None or subject.erased_at is not None:
            with self.tx() as s:
                kept = self._kept(s, subject_id)
                pos = self.emit(
                    s,
                    actor,
                    "vault.erase",
                    "done",
                    purpose=purpose,
                    subject=subject,
                    detail={"already_erased": True, "kept": len(kept)},
                )
            return ErasureResult(subject_id, (), kept, pos, already_erased=True)
        entry = LedgerEntry(subject_id, None, self.now())
        append_ledger(self.ledger_path, entry)
        faults.point("erase.ledger_appended")
        with self.tx() as s:
            live = self.subject_row(s, subject_id)
            erased, kept = self._erase_in(s, live, entry)
            faults.point("erase.rows_deleted")
            pos = self.emit(
                s,
                actor,
                "vault.erase",
                "done",
                purpose=purpose,
                subject=live,
                detail={"categories": ",".join(erased), "kept": len(kept)},
            )
        faults.point("erase.committed")
        return ErasureResult(subject_id, erased, kept, pos)

    def erase_categories(
        self, actor: Actor, purpose: str, subject_id: str, categories: Iterable[str]
    ) -> int:
        """Delete the subject's records of ``categories`` (held records stay until their
        hold ends); returns how many records were deleted."""
        cats = tuple(sorted(set(categories)))
        with self.tx() as s:
            subject = self.subject_row(s, subject_id)
        for category in cats:
            self.guard(
                actor,
                "vault.erase_categories",
                "erase",
                purpose=purpose,
                category=category,
                subject=subject,
            )
        entry = LedgerEntry(subject_id, cats, self.now())
        append_ledger(self.ledger_path, entry)
        faults.point("erase.ledger_appended")
        with self.tx() as s:
            count = self._delete_records(s, subject_id, cats, entry.at)
            s.add(
                ErasureRow(
                    subject_id=subject_id, categories=json.dumps(list(cats)), erased_at=entry.at
                )
            )
            faults.point("erase.rows_deleted")
            self.emit(
                s,
                actor,
                "vault.erase_categories",
                "done",
                purpose=purpose,
                subject=subject,
                detail={"categories": ",".join(cats), "records": count},
            )
        faults.point("erase.committed")
        return count

    def delete_records(
        self,
        actor: Actor,
        purpose: str,
        record_ids: Iterable[str],
        *,
        rule: str,
        on_delete: Callable[[Session, set[str]], None] | None = None,
    ) -> set[str]:
        """Delete records by id for retention ``rule``; returns the ids deleted.

        Records under a running legal hold and records of restricted or erased subjects are
        left alone. One transaction per call: one ``DELETE ... WHERE id IN (...)`` that
        re-checks holds and restriction (``RETURNING`` the rows where the database has it),
        the access check per category (per subject and category for actors other than
        system actors, whose check does not depend on the subject), the ids to the erasure
        ledger file (fsynced once, before the commit; replayed after a restore),
        ``on_delete(session, ids)`` (e.g. retention's aggregates and audit event) and one
        ``vault.delete_records`` audit event with counts. A refused check rolls the delete
        back, is audited and raised.
        """
        ids = sorted(set(record_ids))
        if not ids:
            return set()
        then = (lambda s, rows: on_delete(s, {r[0] for r in rows})) if on_delete else None
        return self._delete_batch(
            actor, purpose, lambda s: self._delete_deletable(s, ids), rule, then
        )

    def delete_where(
        self,
        actor: Actor,
        purpose: str,
        where: ColumnElement[bool],
        *,
        rule: str,
        on_delete: Callable[[Session, list[Deleted]], None] | None = None,
    ) -> set[str]:
        """Like :meth:`delete_records` for the records matching ``where`` (retention passes
        a range of its scan plus the rule's conditions): one ``DELETE ... WHERE`` with the
        same hold and restriction conditions, the same access check, ledger entry (the ids
        the statement returned) and audit event. ``on_delete`` gets the deleted records'
        (id, subject, category)."""
        return self._delete_batch(
            actor, purpose, lambda s: self._delete_matching(s, where), rule, on_delete
        )

    def delete_tid_range(
        self,
        actor: Actor,
        purpose: str,
        span: tuple[str, str],
        *,
        size: int,
        categories: list[str],
        never: datetime,
        surely: datetime,
        unheld_at: datetime,
        rule: str,
        on_delete: Callable[[Session, list[Deleted]], None] | None = None,
    ) -> tuple[list[Scanned], str | None]:
        """PostgreSQL only: retention's scan and ``DELETE`` of one block range of the heap
        (``ctid`` after ``span[0]`` and before ``span[1]``) in one statement.

        The statement reads the first ``size`` (in heap order) of the range's records of
        ``categories`` created at or before ``never`` (the candidates) with their
        subject's restriction, probed by primary key
        per candidate (``LATERAL ... OFFSET 0``: no hash of the whole subject table), and
        deletes by ``ctid`` those created at or before ``surely`` with no hold running at
        ``unheld_at`` and no vault legal hold running now, of live unrestricted subjects
        (the same snapshot as the read: a hold or restriction set earlier is respected; a
        row updated meanwhile is re-checked by PostgreSQL and left alone). Then, as
        :meth:`delete_where`: the access check, ledger entry (fsynced before the commit),
        ``on_delete`` and the ``vault.delete_records`` audit event, one transaction.
        Returns every candidate as (id, subject, category, created_at, hold_until,
        restricted, deleted), so the caller can judge and count the ones left, and the
        last candidate's ``ctid`` (where the next range starts when ``size`` were found)."""
        scanned: list[Scanned] = []
        last: list[str] = []

        def deleter(s: Session) -> list[Deleted]:
            # JIT compiling costs more than it saves on a range (~16 ms a statement);
            # for this transaction only.
            s.execute(text("SET LOCAL jit = off"))
            result = s.execute(
                text(_TID_RANGE_SWEEP),
                {
                    "lo": span[0],
                    "hi": span[1],
                    "cats": categories,
                    "never": never,
                    "surely": surely,
                    "unheld_at": unheld_at,
                    "now": self.now(),
                    "size": size,
                },
            )
            rows = result.fetchall()
            if rows:
                last.append(str(rows[0][7]))
            scanned.extend((r[0], r[1], r[2], r[3], r[4], r[5] is True, r[6] is True) for r in rows)
            return [(r[0], r[1], r[2]) for r in rows if r[6]]

        self._delete_batch(actor, purpose, deleter, rule, on_delete)
        return scanned, (last[0] if last else None)

    def _delete_batch(
        self,
        actor: Actor,
        purpose: str,
        deleter: Callable[[Session], list[Deleted]],
        rule: str,
        on_delete: Callable[[Session, list[Deleted]], None] | None,
    ) -> set[str]:
        try:
            with self.tx() as s:
                rows = deleter(s)
                if not rows:
                    return set()
                refused = self._first_refusal(s, actor, purpose, rows)
                if refused is not None:
                    raise _Refused(*refused)
                gone = {r[0] for r in rows}
                entry = LedgerEntry("", (), self.now(), tuple(sorted(gone)), rule)
                append_ledger(self.ledger_path, entry)
                faults.point("erase.ledger_appended")
                if on_delete is not None:
                    on_delete(s, rows)
                faults.point("erase.rows_deleted")
                self.emit(
                    s,
                    actor,
                    "vault.delete_records",
                    "done",
                    purpose=purpose,
                    detail={
                        "rule": rule,
                        "records": len(gone),
                        "subjects": len({r[1] for r in rows}),
                        "categories": ",".join(sorted({r[2] for r in rows})),
                    },
                )
        except _Refused as refusal:  # rolled back; now audit the refusal and raise
            with self.tx() as s:
                subject = s.get(SubjectRow, refusal.subject_id) if refusal.subject_id else None
            self.guard(
                actor,
                "vault.delete_records",
                "erase",
                purpose=purpose,
                category=refusal.category,
                subject=subject,
            )
            raise VaultError("access check changed during the deletion") from None
        faults.point("erase.committed")
        return gone

    def _delete_matching(self, s: Session, where: ColumnElement[bool]) -> list[Deleted]:
        """Delete the deletable records matching ``where``; their (id, subject, category)."""
        conditions = (where, *self._deletable_where())
        if getattr(s.get_bind().dialect, "delete_returning", False):
            result = s.execute(
                delete(RecordRow)
                .where(*conditions)
                .returning(RecordRow.id, RecordRow.subject_id, RecordRow.category),
                execution_options={"synchronize_session": False},
            )
            return [(r[0], r[1], r[2]) for r in result]
        found = select(RecordRow.id, RecordRow.subject_id, RecordRow.category).where(*conditions)
        rows = [(r[0], r[1], r[2]) for r in s.execute(found.with_for_update())]
        ids = [r[0] for r in rows]
        for start in range(0, len(ids), ID_CHUNK):
            s.execute(
                delete(RecordRow).where(RecordRow.id.in_(ids[start : start + ID_CHUNK])),
                execution_options={"synchronize_session": False},
            )
        return rows

    def _delete_deletable(self, s: Session, ids: list[str]) -> list[Deleted]:
        """Delete the deletable records of ``ids`` (see :meth:`_delete_matching`); their
        (id, subject, category). One statement per chunk of ids."""
        dialect = s.get_bind().dialect.name
        out: list[Deleted] = []
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start : start + ID_CHUNK]
            out.extend(self._delete_matching(s, ids_in(RecordRow.id, chunk, dialect)))
        return out

    def _first_refusal(
        self, s: Session, actor: Actor, purpose: str, rows: list[tuple[str, str, str]]
    ) -> tuple[str | None, str] | None:
        """The first (subject, category) the access check refuses, without auditing it
        (the caller rolls back, then audits through :meth:`guard`). A system actor's check
        depends on the purpose and category only: once per category."""
        if actor.kind == "system":
            for category in sorted({r[2] for r in rows}):
                try:
                    self.access.check(actor, purpose, category, "erase")
                except AccessDenied:
                    return None, category
            return None
        subjects = self.subject_refs(s, sorted({r[1] for r in rows}))
        for subject_id, category in sorted({(r[1], r[2]) for r in rows}):
            subject = subjects[subject_id]
            try:
                self.access.check(
                    actor,
                    purpose,
                    category,
                    "erase",
                    subject_customer=subject.customer_id,
                    subject=subject_id,
                )
            except AccessDenied:
                return subject_id, category
        return None

    def _deletable_where(self) -> tuple[ColumnElement[bool], ...]:
        """Not under a running hold, of a live unrestricted subject (for a ``DELETE``)."""
        held = RecordRow.key_ref.like("hold:%") & (RecordRow.hold_until > self.now())
        live = (
            select(SubjectRow.id)
            .where(
                SubjectRow.id == RecordRow.subject_id,
                SubjectRow.erased_at.is_(None),
                SubjectRow.restricted.is_(False),
            )
            .exists()
        )
        return ~held, live

    # ------------------------------------------------------------------ internals

    def _erase_in(
        self, s: Session, subject: SubjectRow, entry: LedgerEntry
    ) -> tuple[tuple[str, ...], tuple[KeptRecord, ...]]:
        _, erased, kept = self._erase_all_in(s, [subject], {subject.id: entry})[subject.id]
        return erased, kept

    def _erase_all_in(
        self, s: Session, subjects: list[SubjectRow], entries: Mapping[str, LedgerEntry]
    ) -> dict[str, tuple[SubjectRow, tuple[str, ...], tuple[KeptRecord, ...]]]:
        """Erase whole subjects inside ``s`` with one statement per table: records not under
        a live hold, identities, events and keys (the hold keys of kept records stay)
        deleted; subjects with kept records marked erased, the others deleted; one erasure
        row per subject. Returns, per subject, its row, the erased categories and the kept
        records. The one erasure primitive: :meth:`erase`, replay, the request engine's
        batches and the retention sweep all use it."""
        ids = [sub.id for sub in subjects]
        now = self.now()
        held = RecordRow.key_ref.like("hold:%") & (RecordRow.hold_until > now)
        erased: dict[str, set[str]] = {sid: set() for sid in ids}
        for sid, category in s.execute(
            select(RecordRow.subject_id, RecordRow.category)
            .where(RecordRow.subject_id.in_(ids), ~held)
            .distinct()
        ).tuples():
            erased[sid].add(category)
        s.execute(delete(RecordRow).where(RecordRow.subject_id.in_(ids), ~held))
        s.execute(delete(IdentityRow).where(IdentityRow.subject_id.in_(ids)))
        s.execute(delete(EventRow).where(EventRow.subject_id.in_(ids)))
        kept = self._kept_of(s, ids)
        keep_keys = {f"{sid}:hold:{k.hold_id}" for sid in ids for k in kept[sid]}
        s.execute(delete(KeyRow).where(KeyRow.subject_id.in_(ids), KeyRow.id.not_in(keep_keys)))
        forget_keys(s)
        gone = [sid for sid in ids if not kept[sid]]
        for subject in subjects:
            if kept[subject.id]:
                subject.erased_at, subject.restricted = now, False
        if gone:
            s.flush()
            s.execute(delete(SubjectRow).where(SubjectRow.id.in_(gone)))
        s.add_all(
            ErasureRow(subject_id=sid, categories=None, erased_at=entries[sid].at) for sid in ids
        )
        s.flush()
        return {
            sub.id: (sub, tuple(sorted(erased[sub.id])), tuple(kept[sub.id])) for sub in subjects
        }

    def _kept(self, s: Session, subject_id: str) -> tuple[KeptRecord, ...]:
        return tuple(self._kept_of(s, [subject_id])[subject_id])

    def _kept_of(self, s: Session, ids: list[str]) -> dict[str, list[KeptRecord]]:
        """Per subject of ``ids`` (each a key), its records kept under a hold key, oldest
        first; one query."""
        kept: dict[str, list[KeptRecord]] = {sid: [] for sid in ids}
        for rid, sid, category, key_ref, until in s.execute(
            select(
                RecordRow.id,
                RecordRow.subject_id,
                RecordRow.category,
                RecordRow.key_ref,
                RecordRow.hold_until,
            )
            .where(RecordRow.subject_id.in_(ids), RecordRow.key_ref.like("hold:%"))
            .order_by(RecordRow.created_at, RecordRow.id)
        ).tuples():
            if until is not None:
                kept[sid].append(KeptRecord(rid, category, key_ref.split(":", 1)[1], utc(until)))
        return kept

    def _delete_records(
        self, s: Session, subject_id: str, categories: tuple[str, ...], before: datetime
    ) -> int:
        now = self.now()
        held = RecordRow.key_ref.like("hold:%") & (RecordRow.hold_until > now)
        result = s.execute(
            delete(RecordRow).where(
                RecordRow.subject_id == subject_id,
                RecordRow.category.in_(categories),
                RecordRow.created_at <= before,
                ~held,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def replay_erasures(self, actor: Actor) -> ReplayResult:
        """Erase again everyone in the ledger file (after a database restore)."""
        self.guard(actor, "vault.replay_erasures", "erase", purpose=None)
        entries = list(read_ledger(self.ledger_path))
        subjects = records = 0
        for entry in entries:
            with self.tx() as s:
                if entry.records:
                    records += self._replay_records(s, entry.records)
                    continue
                subject = s.get(SubjectRow, entry.subject_id)
                if entry.categories is None:
                    if subject is not None and subject.erased_at is None:
                        self._erase_in(s, subject, entry)
                        subjects += 1
                    elif subject is None and not self.was_erased(s, entry.subject_id):
                        s.add(
                            ErasureRow(
                                subject_id=entry.subject_id, categories=None, erased_at=entry.at
                            )
                        )
                elif subject is not None:
                    records += self._delete_records(s, entry.subject_id, entry.categories, entry.at)
        with self.tx() as s:
            self.emit(
                s,
                actor,
                "vault.replay_erasures",
                "done",
                detail={"entries": len(entries), "subjects": subjects, "records": records},
            )
        return ReplayResult(len(entries), subjects, records)

    def _replay_records(self, s: Session, record_ids: tuple[str, ...]) -> int:
        """Delete again the records of a retention batch (those not under a running hold)."""
        held = RecordRow.key_ref.like("hold:%") & (RecordRow.hold_until > self.now())
        result = s.execute(delete(RecordRow).where(RecordRow.id.in_(record_ids), ~held))
        return int(getattr(result, "rowcount", 0) or 0)

    def purge_expired_holds(self, actor: Actor) -> int:
        """Destroy hold keys and records of erased subjects whose holds have ended."""
        self.guard(actor, "vault.purge_holds", "erase", purpose=None)
        now = self.now()
        purged = 0
        with self.tx() as s:
            tombstones = list(
                s.scalars(select(SubjectRow).where(SubjectRow.erased_at.is_not(None)))
            )
            for subject in tombstones:
                result = s.execute(
                    delete(RecordRow).where(
                        RecordRow.subject_id == subject.id, RecordRow.hold_until <= now
                    )
                )
                purged += int(getattr(result, "rowcount", 0) or 0)
                left = set(
                    s.scalars(select(RecordRow.key_ref).where(RecordRow.subject_id == subject.id))
                )
                s.execute(
                    delete(KeyRow).where(
                        KeyRow.subject_id == subject.id,
                        KeyRow.id.not_in({f"{subject.id}:{ref}" for ref in left}),
                    )
                )
                forget_keys(s)
                if not left:
                    s.delete(subject)
            self.emit(s, actor, "vault.purge_holds", "done", detail={"records": purged})
        return purged
