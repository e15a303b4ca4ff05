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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.clock import utc
from integritet.errors import NotFound, VaultError
from integritet.vault import faults
from integritet.vault.core import VaultCore
from integritet.vault.tables import (
    ErasureRow,
    EventRow,
    IdentityRow,
    KeyRow,
    RecordRow,
    SubjectRow,
)

LEDGER_NAME = "erasure-ledger.jsonl"


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
    subject_id: str
    categories: tuple[str, ...] | None  # None: the whole subject
    at: datetime

    def to_json(self) -> str:
        cats = list(self.categories) if self.categories is not None else None
        return json.dumps(
            {"subject": self.subject_id, "categories": cats, "at": self.at.isoformat()},
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class ReplayResult:
    entries: int
    erased_subjects: int
    erased_records: int


def append_ledger(path: Path, entry: LedgerEntry) -> None:
    """Append one line and fsync it (the file is created 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (entry.to_json() + "\n").encode())
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

    # ------------------------------------------------------------------ internals

    def _erase_in(
        self, s: Session, subject: SubjectRow, entry: LedgerEntry
    ) -> tuple[tuple[str, ...], tuple[KeptRecord, ...]]:
        sid = subject.id
        now = self.now()
        held = RecordRow.key_ref.like("hold:%") & (RecordRow.hold_until > now)
        erased = tuple(
            sorted(
                set(s.scalars(select(RecordRow.category).where(RecordRow.subject_id == sid, ~held)))
            )
        )
        s.execute(delete(RecordRow).where(RecordRow.subject_id == sid, ~held))
        s.execute(delete(IdentityRow).where(IdentityRow.subject_id == sid))
        s.execute(delete(EventRow).where(EventRow.subject_id == sid))
        kept = self._kept(s, sid)
        keep_keys = {f"{sid}:hold:{k.hold_id}" for k in kept}
        s.execute(delete(KeyRow).where(KeyRow.subject_id == sid, KeyRow.id.not_in(keep_keys)))
        if kept:
            subject.erased_at, subject.restricted = now, False
        else:
            s.delete(subject)
        s.add(ErasureRow(subject_id=sid, categories=None, erased_at=entry.at))
        s.flush()
        return erased, kept

    def _kept(self, s: Session, subject_id: str) -> tuple[KeptRecord, ...]:
        rows = s.execute(
            select(RecordRow.id, RecordRow.category, RecordRow.key_ref, RecordRow.hold_until)
            .where(RecordRow.subject_id == subject_id, RecordRow.key_ref.like("hold:%"))
            .order_by(RecordRow.created_at, RecordRow.id)
        ).all()
        return tuple(
            KeptRecord(r[0], r[1], r[2].split(":", 1)[1], utc(r[3]))
            for r in rows
            if r[3] is not None
        )

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
                if not left:
                    s.delete(subject)
            self.emit(s, actor, "vault.purge_holds", "done", detail={"records": purged})
        return purged
