"""Whole-subject reads and erasures for the request engine, in the caller's transaction.

The per-operation API of :class:`~integritet.vault.Vault` opens a transaction and appends
an audit event for every call: answering one access request that way took one
transaction per category plus one for the identities. These functions do the same
checks in one go:

- :func:`read_subject` / :func:`read_subjects`: every category a subject has records in
  (each checked with :meth:`~integritet.vault.Vault.guard` under the purpose that may use
  it, the Art. 18(2) exemption for the person's own request included) and the identity
  values, in the caller's ``session``, with one ``vault.read`` audit event per subject
  (category ``*``, record and identity counts, the purposes, the request);
- :func:`erase_subjects`: :meth:`~integritet.vault.Vault.erase` for many subjects: one
  fsynced ledger write for all of them, then one transaction that deletes their rows and
  keys (legal holds kept) with one ``vault.erase`` audit event per subject; the same
  crash points (``erase.ledger_appended``, ``erase.rows_deleted``, ``erase.committed``)
  and a rerun reports ``already_erased``.

Refusals are audited and raised exactly as by the single-subject methods (a refusal is
recorded in its own transaction, so call these before the session appends anything).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.audit.chain import DetailValue
from integritet.errors import KeyDestroyed, NotFound
from integritet.vault import crypto, faults
from integritet.vault.core import Record, own_rights
from integritet.vault.erasure import ErasureResult, LedgerEntry, append_ledger
from integritet.vault.store import Vault
from integritet.vault.tables import (
    IdentityRow,
    RecordRow,
    SubjectRow,
)

CHUNK = 500


@dataclass
class Held:
    """What the vault holds about one subject (decrypted: personal data, never log it)."""

    identities: dict[str, str] = field(default_factory=dict)
    records: dict[str, list[Record]] = field(default_factory=dict)  # category -> records

    @property
    def categories(self) -> list[str]:
        return sorted(self.records)


def read_subject(
    vault: Vault,
    session: Session,
    actor: Actor,
    subject_id: str,
    purpose_for: Callable[[str], str],
    *,
    rights_request: str | None = None,
    records: bool = True,
    identities_only: bool = False,
    deferred: list[Callable[[], int]] | None = None,
) -> Held:
    """Identities and records of one subject; raises NotFound / KeyDestroyed like
    :meth:`~integritet.vault.Vault.records` for an unknown or erased subject."""
    found = read_subjects(
        vault,
        session,
        actor,
        {subject_id: rights_request},
        purpose_for,
        records=records,
        identities_only=identities_only,
        deferred=deferred,
    )
    if subject_id not in found:
        subject = vault.subject_row(session, subject_id)  # raises NotFound / KeyDestroyed
        raise KeyDestroyed(f"subject {subject.id} was erased; its keys are destroyed")
    return found[subject_id]


def read_subjects(
    vault: Vault,
    session: Session,
    actor: Actor,
    requests: Mapping[str, str | None],
    purpose_for: Callable[[str], str],
    *,
    records: bool = True,
    identities_only: bool = False,
    deferred: list[Callable[[], int]] | None = None,
) -> dict[str, Held]:
    """``{subject id: Held}`` for the live subjects of ``requests`` (subject id -> the id of
    the person's own request, or None); unknown and erased subjects are left out.

    ``records=False`` reads which categories hold records without decrypting them;
    ``identities_only`` reads only the identities (what :meth:`Vault.identities` does, with
    its ``vault.identities`` audit event).

    ``deferred``: the audit events are not appended now but added to this list as calls
    the caller must make in the same ``session`` before it commits (so a transaction that
    does slow work after the read takes the audit append lock only at its end). A caller
    that does not make them must not release what it read."""
    ids = list(requests)
    subjects: dict[str, SubjectRow] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        for row in session.scalars(select(SubjectRow).where(SubjectRow.id.in_(part))):
            if row.erased_at is None:
                subjects[row.id] = row
    if not subjects:
        return {}
    manifest = vault.manifest
    categories = [] if identities_only else [c.id for c in manifest.categories]
    any_purpose = manifest.purposes[0].id
    for sid, subject in subjects.items():
        own = requests[sid]
        vault.guard(
            actor,
            "vault.identities",
            "read",
            purpose=any_purpose,
            subject=subject,
            rights_request=own,
        )
        for category in categories:
            vault.guard(
                actor,
                "vault.read",
                "read",
                purpose=purpose_for(category),
                category=category,
                subject=subject,
                rights_request=own,
            )
    live = list(subjects)
    held = {sid: Held() for sid in live}
    vault.preload_keys(session, live, "dek")
    rows_of: dict[str, list[Any]] = {sid: [] for sid in live}
    for start in range(0, len(live), CHUNK):
        part = live[start : start + CHUNK]
        if identities_only:
            pass
        elif records:
            query = (
                select(RecordRow)
                .where(RecordRow.subject_id.in_(part), RecordRow.category.in_(categories))
                .order_by(RecordRow.created_at, RecordRow.id)
            )
            for record in session.scalars(query):
                rows_of[record.subject_id].append(record)
        else:
            pairs = session.execute(
                select(RecordRow.subject_id, RecordRow.category)
                .where(RecordRow.subject_id.in_(part), RecordRow.category.in_(categories))
                .distinct()
            )
            for sid, category in pairs:
                held[sid].records.setdefault(category, [])
        for identity in session.scalars(
            select(IdentityRow).where(IdentityRow.subject_id.in_(part))
        ):
            subject = subjects[identity.subject_id]
            dek = vault.key(session, subject, "dek")
            aad = crypto.identity_aad(subject.customer_id, subject.id, identity.kind)
            value = crypto.open_sealed(dek, identity.sealed, aad).decode()
            held[identity.subject_id].identities[identity.kind] = value
    for sid in live:
        subject = subjects[sid]
        if identities_only:
            _emit(
                deferred,
                vault,
                session,
                actor,
                "vault.identities",
                subject,
                {"count": len(held[sid].identities), **own_rights(subject, requests[sid])},
                any_purpose,
            )
            continue
        if records:
            for opened in vault._open(session, subject, rows_of[sid]):
                held[sid].records.setdefault(opened.category, []).append(opened)
        count = sum(len(v) for v in held[sid].records.values())
        read = held[sid].categories
        detail: dict[str, DetailValue] = {
            "category": "*",
            "records": count if records else "not decrypted",
            "categories": ",".join(read),
            "purposes": ",".join(f"{c}={purpose_for(c)}" for c in read),
            "identities": len(held[sid].identities),
            **own_rights(subject, requests[sid]),
        }
        _emit(deferred, vault, session, actor, "vault.read", subject, detail)
    return held


def _emit(
    deferred: list[Callable[[], int]] | None,
    vault: Vault,
    session: Session,
    actor: Actor,
    action: str,
    subject: Any,
    detail: Mapping[str, DetailValue],
    purpose: str | None = None,
) -> None:
    """An ``allowed`` audit event of a read, appended now or (``deferred``) by the caller."""

    def emit() -> int:
        return vault.emit(
            session, actor, action, "allowed", purpose=purpose, subject=subject, detail=detail
        )

    if deferred is None:
        emit()
    else:
        deferred.append(emit)


def erase_subjects(
    vault: Vault, actor: Actor, purpose: str, subject_ids: Iterable[str]
) -> dict[str, ErasureResult]:
    """:meth:`~integritet.vault.Vault.erase` for many subjects at once (see module doc).

    Unknown subjects (never in the vault) are left out of the result."""
    wanted = list(dict.fromkeys(subject_ids))
    with vault.tx() as s:
        subjects = {
            r.id: r
            for start in range(0, len(wanted), CHUNK)
            for r in s.scalars(
                select(SubjectRow).where(SubjectRow.id.in_(wanted[start : start + CHUNK]))
            )
        }
        known = [sid for sid in wanted if sid in subjects or vault.was_erased(s, sid)]
    for sid in known:
        vault.guard(actor, "vault.erase", "erase", purpose=purpose, subject=subjects.get(sid))
    live = [sid for sid in known if sid in subjects and subjects[sid].erased_at is None]
    now = vault.now()
    entries = {sid: LedgerEntry(sid, None, now) for sid in live}
    results: dict[str, ErasureResult] = {}
    if live:
        append_ledger(vault.ledger_path, *entries.values())
        faults.point("erase.ledger_appended")
    with vault.tx() as s:
        for sid in known:
            if sid in entries:
                continue
            subject = subjects.get(sid)
            kept = vault._kept(s, sid)
            pos = vault.emit(
                s,
                actor,
                "vault.erase",
                "done",
                purpose=purpose,
                subject=subject,
                detail={"already_erased": True, "kept": len(kept)},
            )
            results[sid] = ErasureResult(sid, (), kept, pos, already_erased=True)
        locked = {
            r.id: r
            for start in range(0, len(live), CHUNK)
            for r in s.scalars(
                select(SubjectRow)
                .where(SubjectRow.id.in_(live[start : start + CHUNK]))
                .order_by(SubjectRow.id)
                .with_for_update()
            )
        }
        for sid in live:
            if sid not in locked:
                raise NotFound(f"no subject {sid}")
        erased_of = {}
        for start in range(0, len(live), CHUNK):
            part = [locked[sid] for sid in live[start : start + CHUNK]]
            erased_of.update(vault._erase_all_in(s, part, entries))
        faults.point("erase.rows_deleted")
        for sid, (row, erased, kept) in erased_of.items():
            pos = vault.emit(
                s,
                actor,
                "vault.erase",
                "done",
                purpose=purpose,
                subject=row,
                detail={"categories": ",".join(erased), "kept": len(kept)},
            )
            results[sid] = ErasureResult(sid, erased, kept, pos)
    if live:
        faults.point("erase.committed")
    return results
