"""Executing the rules on the vault: set-based, batched, audited, crash-safe, with a dry run.

Planning reads only metadata of the vault's tables (record ids, categories, creation
times, hold dates, subject restriction and events), never a sealed value, in batches that
follow the table's physical order (:func:`candidates`), so memory stays flat and the table
is read sequentially. Verdicts come from :mod:`.rules`, with the per-rule parts computed
once (:class:`_Judge`). Each batch's due records go, per category, in one transaction:
one ``DELETE`` (by the batch's range of the table plus the rule's conditions where SQL can
state them exactly, :meth:`Vault.delete_where`; by id otherwise, :meth:`Vault.delete_records`)
in which the vault re-checks holds and restriction, the aggregates (``anonymise``), the
vault's audit event and one ``retention.<action>`` audit event (rule id, category and
counts, no personal data); the deleted ids go to the erasure ledger (fsynced once per batch,
before the commit), so ``vault replay-erasures`` after a backup restore deletes them again.
A process killed mid-sweep leaves whole batches done or not done; a rerun recomputes what
is due from the database, so nothing is removed twice and nothing is missed.

A subject left with no records but those under a legal hold is erased entirely, in the
transaction of the batch that emptied it (:func:`erase_in_batch`: what :meth:`Vault.erase`
does; keys destroyed, identities and events deleted, held records kept under the hold key),
so a kill between the batch and the erasure cannot strand it (a rerun would not find it:
it has no due record left). Restricted subjects (Art. 18) are skipped and counted. ``crypto_shred``
rules remove the sealed rows; the subject's key is destroyed when nothing else of the
subject remains (keys are per subject, not per record).
"""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    and_,
    cast,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.audit import AuditEvent
from integritet.clock import utc
from integritet.errors import AccessDenied, VaultError
from integritet.manifest.model import Anchor, Manifest, RetentionAction, RetentionRule
from integritet.retention import rules
from integritet.retention.logs import Limit
from integritet.retention.tables import AggregateRow, WarningRow
from integritet.vault import Vault, faults
from integritet.vault.erasure import Deleted, LedgerEntry, append_ledger, ids_in
from integritet.vault.tables import EventRow, RecordRow, SubjectRow

ACTOR = Actor.system("retention")
BATCH = 20_000  # candidates per batch (one DELETE and one transaction per category)
SUBJECT_BATCH = 1000  # subjects per query when rules read subject events
CHUNK = 10_000  # ids per IN (...) list


@dataclass
class RuleReport:
    """One rule on one category: what is due, held, done. Counts and dates only."""

    rule: str
    category: str
    action: str
    anchor: str
    due: int = 0
    held: int = 0
    restricted: int = 0
    subjects: int = 0
    oldest: datetime | None = None
    done: int = 0

    def see(self, anchor_at: datetime | None) -> None:
        if anchor_at is not None and (self.oldest is None or anchor_at < self.oldest):
            self.oldest = anchor_at


@dataclass
class SweepTotals:
    reports: list[RuleReport] = field(default_factory=list)
    erased_subjects: int = 0
    purged_holds: int = 0


@dataclass(slots=True)
class _Candidate:
    id: str
    subject_id: str
    category: str
    created_at: datetime
    hold_until: datetime | None
    restricted: bool
    anchor_at: datetime | None


def purpose_for(manifest: Manifest, categories: list[str]) -> str:
    """A declared purpose that uses one of ``categories`` (system actors may use any)."""
    for purpose in manifest.purposes:
        if set(purpose.categories) & set(categories):
            return purpose.id
    return manifest.purposes[0].id


def _aware(value: datetime | None) -> datetime | None:
    """Naive values (SQLite) are UTC; aware ones compare correctly as they are."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


Page = tuple[list[Row[Any]], ColumnElement[bool]]


def candidates(
    vault: Vault, rule: RetentionRule, now: datetime, batch: int | None = None
) -> Iterator[tuple[list[_Candidate], ColumnElement[bool]]]:
    """Records of the rule's categories that may be due (a cheap SQL pre-filter), with
    their stored hold date and their subject's restriction, in batches of ``batch``.

    The scan follows the table's physical order (SQLite ``rowid``, PostgreSQL ``ctid``
    block ranges; other databases the record id), so it reads the table sequentially
    like a plain ``DELETE ... WHERE`` would, and each batch continues after the last row
    of the previous one. The position is only a cursor: deletions go by record id. A row
    moved by a concurrent update (or a ``VACUUM`` renumbering SQLite rowids) may be seen
    twice or not at all in this run; the next run sees it. With each batch comes its span:
    the condition "between the previous batch's last row (excluded) and this batch's last
    row (included)", for a range ``DELETE`` (see :func:`remove_batch`).
    """
    size = batch or BATCH
    bound = Limit(rule.duration, now).never
    base = (
        select(
            RecordRow.id,
            RecordRow.subject_id,
            RecordRow.category,
            RecordRow.created_at,
            RecordRow.hold_until,
            SubjectRow.restricted,
        )
        .join(SubjectRow, SubjectRow.id == RecordRow.subject_id)
        .where(RecordRow.category.in_(rule.categories), SubjectRow.erased_at.is_(None))
    )
    if rules.record_level(rule):
        query = base.add_columns(RecordRow.created_at).where(RecordRow.created_at <= bound)
    else:
        event = rules.event_name(rule.anchor, rule.event)
        query = base.add_columns(EventRow.at).join(
            EventRow,
            and_(EventRow.subject_id == RecordRow.subject_id, EventRow.event == event),
        )
        query = query.where(EventRow.at <= bound)
    dialect = vault.engine.dialect.name
    pages = _by_rowid if dialect == "sqlite" else _by_ctid if dialect == "postgresql" else _by_id
    aware, at = _aware, _aware_at
    for rows, span in pages(vault, query, size):
        found = [
            _Candidate(r[0], r[1], r[2], at(r[3]), aware(r[4]), bool(r[5]), aware(r[6]))
            for r in rows
        ]
        yield found, span


def _by_id(vault: Vault, query: Select[Any], size: int) -> Iterator[Page]:
    after = ""
    while True:
        with vault.engine.connect() as conn:
            page = query.where(RecordRow.id > after).order_by(RecordRow.id).limit(size)
            rows = list(conn.execute(page).all())
        if not rows:
            return
        last = str(rows[-1][0])
        yield rows, and_(RecordRow.id > after, RecordRow.id <= last)
        after = last


def _by_rowid(vault: Vault, query: Select[Any], size: int) -> Iterator[Page]:
    rowid: ColumnElement[int] = literal_column("vault_records.rowid")
    query = query.add_columns(rowid).order_by(rowid).limit(size)
    after = 0
    while True:
        with vault.engine.connect() as conn:
            rows = list(conn.execute(query.where(rowid > after)).all())
        if not rows:
            return
        last = int(rows[-1][-1])
        yield rows, and_(rowid > after, rowid <= last)
        after = last


def _by_ctid(vault: Vault, query: Select[Any], size: int) -> Iterator[Page]:
    """Block ranges of the heap (TID range scans), each sorted by ``ctid`` and cut at
    ``size`` rows; the range grows while it holds fewer candidates than ``size``."""
    ctid: ColumnElement[str] = literal_column("vault_records.ctid")
    query = query.add_columns(cast(ctid, String)).order_by(ctid).limit(size)
    blocks, _ = _heap_shape(vault)
    after, width = "(0,0)", 1024
    while _block(after) <= blocks:
        upto = f"({_block(after) + width},0)"
        page = query.where(
            text("vault_records.ctid > CAST(:after AS tid)").bindparams(after=after),
            text("vault_records.ctid < CAST(:upto AS tid)").bindparams(upto=upto),
        )
        with vault.engine.connect() as conn:
            rows = list(conn.execute(page).all())
        if rows:
            last = str(rows[-1][-1])
            span = and_(
                text("vault_records.ctid > CAST(:span_after AS tid)").bindparams(span_after=after),
                text("vault_records.ctid <= CAST(:span_last AS tid)").bindparams(span_last=last),
            )
            yield rows, span
        if len(rows) == size:
            after = str(rows[-1][-1])
        else:
            after = upto
            width = min(width * 2, 1 << 20)


def _block(tid: str) -> int:
    return int(tid[1 : tid.index(",")])


def _aware_at(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _in_utc(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def events_of(vault: Vault, subject_ids: set[str]) -> dict[str, dict[str, datetime]]:
    out: dict[str, dict[str, datetime]] = {sid: {} for sid in subject_ids}
    with Session(vault.engine) as s:
        for row in s.scalars(select(EventRow).where(EventRow.subject_id.in_(subject_ids))):
            from integritet.clock import utc

            out[row.subject_id][row.event] = utc(row.at)
    return out


class _Judge:
    """:func:`rules.decide` for one rule at one time, with the per-rule parts computed
    once: the holds on each category and the expiry bound. A record of a category that no
    manifest hold covers is held exactly when its stored ``hold_until`` is still ahead;
    other records go through :func:`rules.decide` with their subject's events."""

    def __init__(self, manifest: Manifest, rule: RetentionRule, now: datetime) -> None:
        self.manifest, self.rule, self.now = manifest, rule, now
        self.limit = Limit(rule.duration, now)
        self.holds = {c: bool(rules.holds_for(manifest, rule, c)) for c in rule.categories}
        self.record_level = rules.record_level(rule)
        self.collected = rule.anchor == Anchor.collected

    def ranges(
        self, span: ColumnElement[bool], inexact: set[str]
    ) -> dict[str, ColumnElement[bool]]:
        """Per category, a condition that matches exactly the batch's due records, for a
        range ``DELETE``: the span, the category, the anchor at or before ``Limit.surely``
        and no stored hold running (restriction and erased subjects the vault excludes).
        Only where SQL can say it: not for categories under a manifest hold, not for
        ``fiscal_year_end`` or ``anonymise`` (the aggregates need each record), and not for
        a category with a due record past ``surely`` in this batch (``inexact``)."""
        rule = self.rule
        if rule.action == RetentionAction.anonymise or rule.anchor == Anchor.fiscal_year_end:
            return {}
        surely = self.limit.surely
        unheld = or_(RecordRow.hold_until.is_(None), RecordRow.hold_until <= self.now)
        if self.collected:
            anchored: ColumnElement[bool] = RecordRow.created_at <= surely
        else:
            anchored = (
                select(EventRow.subject_id)
                .where(
                    EventRow.subject_id == RecordRow.subject_id,
                    EventRow.event == rules.event_name(rule.anchor, rule.event),
                    EventRow.at <= surely,
                )
                .exists()
            )
        return {
            c: and_(span, RecordRow.category == c, anchored, unheld)
            for c in rule.categories
            if not self.holds[c] and c not in inexact
        }

    def one_statement(self, vault: Vault) -> bool:
        """Whether a batch can be found and deleted in one statement
        (:meth:`Vault.delete_tid_range`): PostgreSQL, anchor ``collected``, action
        ``delete`` or ``crypto_shred``, no manifest hold on any of the categories."""
        rule = self.rule
        return (
            vault.engine.dialect.name == "postgresql"
            and rule.anchor == Anchor.collected
            and rule.action in (RetentionAction.delete, RetentionAction.crypto_shred)
            and not any(self.holds.values())
        )

    def needs_events(self, batch: list[_Candidate]) -> bool:
        return any(self.holds[c.category] for c in batch)

    def verdict(self, cand: _Candidate, events: dict[str, datetime]) -> rules.Verdict:
        if self.holds[cand.category]:
            return _verdict(self.manifest, self.rule, cand, events, self.now)
        if self.record_level:
            created = cand.created_at
            cand.anchor_at = created if self.collected else rules.fiscal_year_end(created)
        anchor = cand.anchor_at
        if anchor is None or not self.limit.expired(anchor):
            return rules.Verdict.keep
        held = cand.hold_until is not None and cand.hold_until > self.now
        return rules.Verdict.held if held else rules.Verdict.due


class _Distinct:
    """Exact count of distinct subject ids without a Python object per id: 64-bit
    fingerprints in an open-addressing table at most half full (8-16 bytes per subject
    instead of ~100 for a set of strings). Ids are 32 hex digits of random bytes (the low
    64 bits are the fingerprint; anything else is hashed); two of a million subjects
    share a fingerprint with a probability below 1e-7."""

    _MASK = (1 << 64) - 1
    _GOLDEN = 0x9E3779B97F4A7C15  # multiplicative hashing: the top bits pick the slot

    def __init__(self) -> None:
        self.bits = 10
        self.slots = array("Q", bytes(8 << self.bits))
        self.count = 0

    def add(self, key: str) -> None:
        try:
            fp = int(key, 16) & self._MASK or 1
        except ValueError:
            fp = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest()) or 1
        if self._put(fp) and self.count * 2 > len(self.slots):
            old = self.slots
            self.bits += 1
            self.slots, self.count = array("Q", bytes(8 << self.bits)), 0
            for held in old:
                if held:
                    self._put(held)

    def add_all(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.add(key)

    def _put(self, fp: int) -> bool:
        """Insert ``fp``; False when it was there already."""
        slots, mask = self.slots, len(self.slots) - 1
        i = ((fp * self._GOLDEN) & self._MASK) >> (64 - self.bits)
        while True:
            held = slots[i]
            if held == fp:
                return False
            if not held:
                slots[i] = fp
                self.count += 1
                return True
            i = (i + 1) & mask


def sweep_rule(
    vault: Vault,
    rule: RetentionRule,
    now: datetime,
    *,
    dry_run: bool,
    totals: SweepTotals,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Find and (unless ``dry_run``) remove what ``rule`` wants gone, batch by batch."""
    reports = {
        c: RuleReport(rule.id, c, rule.action.value, rule.anchor.value) for c in rule.categories
    }
    totals.reports.extend(reports.values())
    seen_subjects = {c: _Distinct() for c in rule.categories}
    judge = _Judge(vault.manifest, rule, now)
    if not dry_run and judge.one_statement(vault):
        _sweep_tid_ranges(vault, rule, judge, reports, seen_subjects, totals, progress)
    else:
        _sweep_batches(vault, rule, judge, reports, seen_subjects, totals, dry_run, progress)
    for category, subjects in seen_subjects.items():
        reports[category].subjects = subjects.count
        reports[category].oldest = _in_utc(reports[category].oldest)


def _sweep_batches(
    vault: Vault,
    rule: RetentionRule,
    judge: _Judge,
    reports: dict[str, RuleReport],
    seen_subjects: dict[str, _Distinct],
    totals: SweepTotals,
    dry_run: bool,
    progress: Callable[[int], None] | None,
) -> None:
    """Candidates read batch by batch (:func:`candidates`), judged here, due ones deleted
    by range or by id (:func:`remove_batch`)."""
    now = judge.now
    due_verdict, held_verdict = rules.Verdict.due, rules.Verdict.held
    for batch, span in candidates(vault, rule, now):
        events = (
            events_of(vault, {c.subject_id for c in batch}) if judge.needs_events(batch) else {}
        )
        due: list[_Candidate] = []
        inexact: set[str] = set()  # categories a range DELETE would not match exactly
        surely = judge.limit.surely
        for cand in batch:
            verdict = judge.verdict(cand, events.get(cand.subject_id, {}))
            report = reports[cand.category]
            if verdict == held_verdict:
                report.held += 1
                continue
            if verdict == due_verdict and cand.anchor_at is not None and cand.anchor_at > surely:
                inexact.add(cand.category)
            if verdict == due_verdict and cand.restricted:
                report.restricted += 1
            elif verdict == due_verdict:
                report.due += 1
                report.see(cand.anchor_at)
                due.append(cand)
                seen_subjects[cand.category].add(cand.subject_id)
        if due and not dry_run:
            ranges = judge.ranges(span, inexact)
            removed, emptied = remove_batch(vault, rule, due, now, ranges)
            for category, count in removed.items():
                reports[category].done += count
            faults.point("retention.batch_committed")
            totals.erased_subjects += len(emptied)
        if progress is not None:
            progress(len(batch))


def _audit_and_erase(
    vault: Vault,
    s: Session,
    rule: RetentionRule,
    batch: dict[str, tuple[int, set[str]]],
    now: datetime,
) -> set[str]:
    """In a batch's transaction ``s``: one ``retention.<action>`` audit event per category
    of ``batch`` (category -> records removed, their subjects), in category order, then
    the erasure of those subjects left with nothing but held records; returns them."""
    subjects: set[str] = set()
    for category in sorted(batch):
        records, ids = batch[category]
        vault.audit.append(
            s,
            AuditEvent(
                actor=ACTOR.label,
                action=f"retention.{rule.action.value}",
                outcome="done",
                detail={
                    "rule": rule.id,
                    "category": category,
                    "records": records,
                    "subjects": len(ids),
                },
            ),
        )
        subjects |= ids
    return erase_in_batch(vault, s, empty_subjects(s, subjects, now))


def _heap_shape(vault: Vault) -> tuple[int, float]:
    """Blocks of ``vault_records`` and the planner's estimate of rows per block."""
    with vault.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_relation_size('vault_records') / current_setting('block_size')::int,"
                " reltuples, relpages FROM pg_class WHERE oid = 'vault_records'::regclass"
            )
        ).one()
    blocks, tuples, pages = int(row[0] or 0), float(row[1] or 0), int(row[2] or 0)
    per_block = tuples / pages if tuples > 0 and pages > 0 else 50.0
    return blocks, max(per_block, 1.0)


def _sweep_tid_ranges(
    vault: Vault,
    rule: RetentionRule,
    judge: _Judge,
    reports: dict[str, RuleReport],
    seen_subjects: dict[str, _Distinct],
    totals: SweepTotals,
    progress: Callable[[int], None] | None,
) -> None:
    """PostgreSQL, rules SQL states exactly: one statement per block range finds the
    candidates and deletes the due ones (:meth:`Vault.delete_tid_range`), in the batch's
    transaction with the ledger entry, access check and audit events. The range width
    adapts to aim at ``BATCH`` candidates; a range holding more is cut after ``BATCH``
    (in heap order) and the next one starts there, so memory stays bounded. Candidates
    the statement left (held, restricted, anchor within the calendar's uncertainty) are
    judged here; due ones among them go by id (:func:`remove_batch`)."""
    now, limit = judge.now, judge.limit
    blocks, per_block = _heap_shape(vault)
    width, after = max(1, int(BATCH / per_block)), "(0,0)"
    purpose = purpose_for(vault.manifest, list(rule.categories))
    due_verdict, held_verdict = rules.Verdict.due, rules.Verdict.held
    while _block(after) <= blocks:
        span = (after, f"({_block(after) + width},0)")
        emptied: set[str] = set()

        def on_delete(s: Session, rows: list[Deleted], emptied: set[str] = emptied) -> None:
            by_category: dict[str, set[str]] = {}
            counts: Counter[str] = Counter()
            for _id, subject_id, category in rows:
                by_category.setdefault(category, set()).add(subject_id)
                counts[category] += 1
            batch = {c: (counts[c], by_category[c]) for c in counts}
            emptied.update(_audit_and_erase(vault, s, rule, batch, now))

        with _erasure_refusals(vault):
            scanned, last = vault.delete_tid_range(
                ACTOR,
                purpose,
                span,
                size=BATCH,
                categories=list(rule.categories),
                never=limit.never,
                surely=limit.surely,
                unheld_at=now,
                rule=rule.id,
                on_delete=on_delete,
            )
        left: list[_Candidate] = []
        for category, report in reports.items():  # the deleted ones: counted in bulk
            gone = [r for r in scanned if r[6] and r[2] == category]
            if gone:
                report.due += len(gone)
                report.done += len(gone)
                report.see(_aware_at(min(r[3] for r in gone)))
                seen_subjects[category].add_all(r[1] for r in gone)
        for rid, sid, category, created, hold_until, restricted, deleted in scanned:
            if deleted:
                continue
            report = reports[category]
            cand = _Candidate(
                rid, sid, category, _aware_at(created), _aware(hold_until), restricted, None
            )
            verdict = judge.verdict(cand, {})
            if verdict == held_verdict:
                report.held += 1
            elif verdict == due_verdict and restricted:
                report.restricted += 1
            elif verdict == due_verdict:
                report.due += 1
                report.see(cand.anchor_at)
                seen_subjects[category].add(sid)
                left.append(cand)
        if left:
            removed, more = remove_batch(vault, rule, left, now)
            for category, count in removed.items():
                reports[category].done += count
            emptied |= more
        faults.point("retention.batch_committed")
        totals.erased_subjects += len(emptied)
        if progress is not None:
            progress(len(scanned))
        if len(scanned) >= BATCH and last is not None:  # cut: continue after its last row
            after, width = last, max(1, width // 2)
        else:  # aim the next range at BATCH candidates
            after = span[1]
            grown = int(width * BATCH / len(scanned)) if scanned else width * 2
            width = max(1, min(grown, width * 2, 1 << 20))


def _verdict(
    manifest: Manifest,
    rule: RetentionRule,
    cand: _Candidate,
    events: dict[str, datetime],
    now: datetime,
) -> rules.Verdict:
    if not rules.record_level(rule) and cand.anchor_at is not None:
        events = {**events, rules.event_name(rule.anchor, rule.event): cand.anchor_at}
    decision = rules.decide(
        manifest, rule, cand.category, cand.created_at, events, now, cand.hold_until
    )
    if rules.record_level(rule):
        cand.anchor_at = decision.anchor_at
    return decision.verdict


def remove_batch(
    vault: Vault,
    rule: RetentionRule,
    due: list[_Candidate],
    now: datetime,
    ranges: dict[str, ColumnElement[bool]] | None = None,
) -> tuple[Counter[str], set[str]]:
    """Delete one batch: per category one transaction with one ``DELETE`` (holds and
    restriction re-checked by the vault), the ledger entry, the aggregates (``anonymise``),
    the vault's audit event and one ``retention.<action>`` audit event with counts.

    A category in ``ranges`` goes through :meth:`Vault.delete_where` with that condition
    (the batch's span of the scan and the rule's own conditions in SQL: the table is read
    in order, no id list); the others through :meth:`Vault.delete_records` with the due
    ids. Returns the counts per category and the subjects of the batch left with nothing
    but held records (found in the same transaction)."""
    regions = _regions(vault, rule, due) if "count_per_region" in rule.aggregates else {}
    removed: Counter[str] = Counter()
    emptied: set[str] = set()
    by_category: dict[str, list[_Candidate]] = {}
    for cand in due:
        by_category.setdefault(cand.category, []).append(cand)
    for category, items in by_category.items():

        def on_delete(s: Session, rows: list[Deleted], category: str = category) -> None:
            gone = {r[0] for r in rows}
            kept = [c for c in by_category[category] if c.id in gone]
            if rule.action == RetentionAction.anonymise:
                add_aggregates(s, rule, category, kept, regions)
            subjects = {r[1] for r in rows}
            batch = {category: (len(rows), subjects)}
            emptied.update(_audit_and_erase(vault, s, rule, batch, now))

        purpose = purpose_for(vault.manifest, [category])
        where = (ranges or {}).get(category)
        if where is not None:
            with _erasure_refusals(vault):
                gone = vault.delete_where(ACTOR, purpose, where, rule=rule.id, on_delete=on_delete)
        else:
            by_id = {c.id: c for c in items}

            def on_ids(
                s: Session,
                ids: set[str],
                on: Callable[[Session, list[Deleted]], None] = on_delete,
                known: dict[str, _Candidate] = by_id,
            ) -> None:
                on(s, [(i, known[i].subject_id, known[i].category) for i in sorted(ids)])

            with _erasure_refusals(vault):
                gone = vault.delete_records(
                    ACTOR, purpose, list(by_id), rule=rule.id, on_delete=on_ids
                )
        removed[category] = len(gone)
    return removed, emptied


def _regions(vault: Vault, rule: RetentionRule, due: list[_Candidate]) -> dict[str, str]:
    """Region of each record: its ``region``/``country``/``city`` field, else where it is
    stored (the manifest's storage location for the category), else ``unknown``."""
    manifest = vault.manifest
    out: dict[str, str] = {}
    wanted = {c.id for c in due}
    for subject_id in sorted({c.subject_id for c in due}):
        cats = sorted({c.category for c in due if c.subject_id == subject_id})
        for category in cats:
            purpose = purpose_for(manifest, [category])
            for record in vault.records(ACTOR, purpose, subject_id, category):
                if record.id in wanted:
                    out[record.id] = _region_of(manifest, category, record.fields)
    return out


def _region_of(manifest: Manifest, category: str, fields: dict[str, Any]) -> str:
    for key in ("region", "country", "city"):
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:64]
    for location in manifest.storage.locations:
        if not location.categories or category in location.categories:
            return location.region or location.country
    return "unknown"


def add_aggregates(
    s: Session,
    rule: RetentionRule,
    category: str,
    items: list[_Candidate],
    regions: dict[str, str],
) -> None:
    """Count the records about to go into the aggregates the rule asks for."""
    counts: Counter[tuple[str, str]] = Counter()
    for cand in items:
        if "count_per_month" in rule.aggregates:
            counts[("count_per_month", cand.created_at.strftime("%Y-%m"))] += 1
        if "count_per_region" in rule.aggregates:
            counts[("count_per_region", regions.get(cand.id, "unknown"))] += 1
    for (kind, bucket), count in sorted(counts.items()):
        row = s.scalar(
            select(AggregateRow)
            .where(
                AggregateRow.rule_id == rule.id,
                AggregateRow.category == category,
                AggregateRow.kind == kind,
                AggregateRow.bucket == bucket,
            )
            .with_for_update()
        )
        if row is None:
            s.add(
                AggregateRow(
                    rule_id=rule.id, category=category, kind=kind, bucket=bucket, count=count
                )
            )
            s.flush()
        else:
            row.count += count


_EMPTY_SUBJECTS = """
SELECT u.id FROM unnest(string_to_array(CAST(:ids AS text), ',')) AS u(id)
WHERE NOT EXISTS (
    SELECT 1 FROM vault_records r
    WHERE r.subject_id = u.id AND NOT (r.key_ref LIKE 'hold:%' AND r.hold_until > :now))
  AND EXISTS (
    SELECT 1 FROM vault_subjects vs
    WHERE vs.id = u.id AND vs.erased_at IS NULL AND vs.restricted IS FALSE
    OFFSET 0)
"""


def empty_subjects(s: Session, subject_ids: set[str], now: datetime) -> set[str]:
    """Live, unrestricted subjects (of ``subject_ids``) with no record left but held ones:
    one ``NOT EXISTS`` probe per subject (it stops at the first live record)."""
    ids, out = sorted(subject_ids), set[str]()
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql" and not any("," in i for i in ids):
        # Driven by the id list (one index probe per subject): ``id = ANY(:ids)`` on the
        # subject table is planned as a scan of all subjects, each tested against the list.
        # The ids (hex) go as one comma-separated string, split by the server.
        for start in range(0, len(ids), CHUNK):
            joined = ",".join(ids[start : start + CHUNK])
            found = s.execute(text(_EMPTY_SUBJECTS), {"ids": joined, "now": now})
            out.update(str(r[0]) for r in found)
        return out
    held = RecordRow.key_ref.like("hold:%") & (RecordRow.hold_until > now)
    live = select(RecordRow.id).where(RecordRow.subject_id == SubjectRow.id, ~held).exists()
    for start in range(0, len(ids), CHUNK):
        out.update(
            s.scalars(
                select(SubjectRow.id).where(
                    ids_in(SubjectRow.id, ids[start : start + CHUNK], dialect),
                    SubjectRow.erased_at.is_(None),
                    SubjectRow.restricted.is_(False),
                    ~live,
                )
            )
        )
    return out


class _ErasureRefused(Exception):
    """The access check refused erasing a subject inside a batch's transaction."""

    def __init__(self, subject_id: str) -> None:
        super().__init__("erase")
        self.subject_id = subject_id


@contextmanager
def _erasure_refusals(vault: Vault) -> Iterator[None]:
    """Around a batch's transaction: a refusal raised inside it (:func:`erase_in_batch`)
    has rolled the whole batch back; audit it (own transaction) and raise."""
    try:
        yield
    except _ErasureRefused as refusal:
        with vault.tx() as s:
            subject = s.get(SubjectRow, refusal.subject_id)
        vault.guard(ACTOR, "vault.erase", "erase", purpose=_erase_purpose(vault), subject=subject)
        raise VaultError("access check changed during the erasure") from None


def _erase_purpose(vault: Vault) -> str:
    return purpose_for(vault.manifest, [c.id for c in vault.manifest.categories])


def erase_in_batch(vault: Vault, s: Session, subject_ids: set[str]) -> set[str]:
    """Erase whole subjects (those of ``subject_ids`` still live and unrestricted) inside
    the batch's transaction ``s``, so a kill leaves a batch and the erasure of the subjects
    it emptied done or not done together (issue #6): what :meth:`Vault.erase` does, set
    based (``Vault._erase_all_in``: records not under a running hold, identities, events
    and keys deleted, held records kept under the hold key, one erasure row each), the
    access check per subject (a refusal rolls the batch back and is audited by
    :func:`_erasure_refusals`), the ledger lines fsynced once before the commit, one
    ``vault.erase`` audit event per subject, and their pending warnings dropped."""
    if not subject_ids:
        return set()
    ids, dialect = sorted(subject_ids), s.get_bind().dialect.name
    rows: list[SubjectRow] = []
    for start in range(0, len(ids), CHUNK):
        rows.extend(
            s.scalars(
                select(SubjectRow)
                .where(
                    ids_in(SubjectRow.id, ids[start : start + CHUNK], dialect),
                    SubjectRow.erased_at.is_(None),
                    SubjectRow.restricted.is_(False),
                )
                .order_by(SubjectRow.id)
                .with_for_update()
            )
        )
    if not rows:
        return set()
    purpose = _erase_purpose(vault)
    for row in rows:
        try:
            vault.access.check(
                ACTOR, purpose, None, "erase", subject_customer=row.customer_id, subject=row.id
            )
        except AccessDenied:
            raise _ErasureRefused(row.id) from None
    now = vault.now()
    entries = {row.id: LedgerEntry(row.id, None, now) for row in rows}
    append_ledger(vault.ledger_path, *entries.values())
    erased: dict[str, tuple[SubjectRow, tuple[str, ...], tuple[Any, ...]]] = {}
    for start in range(0, len(rows), CHUNK):
        erased.update(vault._erase_all_in(s, rows[start : start + CHUNK], entries))
    for sid in sorted(erased):
        row, categories, kept = erased[sid]
        vault.emit(
            s,
            ACTOR,
            "vault.erase",
            "done",
            purpose=purpose,
            subject=row,
            detail={"categories": ",".join(categories), "kept": len(kept)},
        )
    done = sorted(erased)
    for start in range(0, len(done), CHUNK):
        s.execute(
            delete(WarningRow).where(
                ids_in(WarningRow.subject_id, done[start : start + CHUNK], dialect)
            )
        )
    return set(done)


def erase_subjects(vault: Vault, subject_ids: set[str]) -> int:
    """Erase these subjects entirely (:meth:`Vault.erase`, one by one) and drop their
    pending warnings; returns how many."""
    if not subject_ids:
        return 0
    purpose = purpose_for(vault.manifest, [c.id for c in vault.manifest.categories])
    for subject_id in sorted(subject_ids):
        vault.erase(ACTOR, purpose, subject_id)
        with vault.tx() as s:
            s.execute(delete(WarningRow).where(WarningRow.subject_id == subject_id))
    return len(subject_ids)


def erase_emptied(vault: Vault, subject_ids: set[str], now: datetime) -> int:
    """Erase the subjects that have nothing left but held records; returns how many."""
    with Session(vault.engine) as s:
        empty = empty_subjects(s, subject_ids, now)
    return erase_subjects(vault, empty)


def subjects_to_erase_by_event(
    vault: Vault, rule: RetentionRule, now: datetime, *, dry_run: bool
) -> int:
    """Subjects due under an event rule that hold nothing else (e.g. only identities)."""
    if rules.record_level(rule):
        return 0
    event = rules.event_name(rule.anchor, rule.event)
    bound = Limit(rule.duration, now).never
    count = 0
    for ids in vault.subjects_with_event_before(event, bound, batch=SUBJECT_BATCH):
        due = {sid for sid, at in _event_times(vault, ids, event).items()
               if rule.duration.after(at) <= now}  # fmt: skip
        if not due:
            continue
        if not dry_run:
            # ``empty_subjects`` (inside) already keeps only subjects with no live record.
            count += erase_emptied(vault, due, now)
            continue
        with Session(vault.engine) as s:
            held = RecordRow.key_ref.like("hold:%") & (RecordRow.hold_until > now)
            others = select(RecordRow.subject_id).where(
                RecordRow.subject_id.in_(due), RecordRow.category.not_in(rule.categories), ~held
            )
            blocked = set(s.scalars(others))
        count += len(due - blocked)
    return count


def _event_times(vault: Vault, ids: list[str], event: str) -> dict[str, datetime]:
    from integritet.clock import utc

    with Session(vault.engine) as s:
        rows = s.execute(
            select(EventRow.subject_id, EventRow.at).where(
                EventRow.subject_id.in_(ids), EventRow.event == event
            )
        )
        return {r[0]: utc(r[1]) for r in rows}


def expired_holds(vault: Vault, now: datetime, *, dry_run: bool) -> int:
    """Held records of erased subjects whose hold has ended: destroyed (or counted)."""
    if not dry_run:
        return vault.purge_expired_holds(ACTOR)
    with Session(vault.engine) as s:
        return int(
            s.scalar(
                select(func.count(RecordRow.id))
                .join(SubjectRow, SubjectRow.id == RecordRow.subject_id)
                .where(SubjectRow.erased_at.is_not(None), RecordRow.hold_until <= now)
            )
            or 0
        )
