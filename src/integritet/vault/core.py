"""The vault core: subjects, identities (blind index), events, behind access checks.

Every public method takes an :class:`~integritet.access.Actor` and (for data) a purpose,
checks them against the manifest (:mod:`integritet.access`), refuses restricted subjects
(Art. 18, storage only) and appends an audit event, allowed or refused. A refusal is
recorded in its own transaction (``AuditLog.append_now``) and raises ``AccessDenied``.

Unwrapped keys live only for the duration of one transaction (:func:`tx_keys`). Erasure
and replay are in :mod:`integritet.vault.erasure`; they run inside this class's sessions.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integritet.access import AccessCache, Actor, check_action
from integritet.audit import AuditEvent, AuditLog
from integritet.audit.chain import DetailValue
from integritet.clock import Clock, utc
from integritet.errors import (
    AccessDenied,
    DuplicateSubject,
    KeyDestroyed,
    NotFound,
    SubjectRestricted,
    VaultError,
)
from integritet.manifest import Manifest
from integritet.vault import crypto
from integritet.vault.keys import KeyRing
from integritet.vault.tables import (
    CustomerRow,
    ErasureRow,
    EventRow,
    IdentityRow,
    KeyRow,
    SubjectRow,
)

_KEYS = "integritet.vault.keys"
CHUNK = 500  # ids per IN (...) query
IDENTITY_KINDS = ("email", "phone", "personnummer", "customer_number", "external_id")
# Art. 18(2): answering the person's own request (Art. 15, 20) reads a restricted subject.
# Only the request engine's system actor may claim it; the audit event records it.
RIGHTS_ACTOR = "requests"
OWN_RIGHTS = "art18_own_rights"
INDEX_KEY_ID = "index"


class Subject(Protocol):
    """What checks, audit and sealing read of a subject: a ``SubjectRow`` or a ``SubjectRef``."""

    @property
    def id(self) -> str: ...
    @property
    def customer_id(self) -> str | None: ...
    @property
    def restricted(self) -> bool: ...
    @property
    def erased_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class SubjectRef:
    """A subject's columns as plain values (batch paths load these instead of ORM rows)."""

    id: str
    customer_id: str | None
    restricted: bool
    erased_at: datetime | None


@dataclass(frozen=True)
class NewRecord:
    """One record to store with :meth:`Vault.put_records`."""

    subject_id: str
    category: str
    fields: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class Record:
    """One record of one category, decrypted."""

    id: str
    subject_id: str
    category: str
    fields: dict[str, Any]
    source: str
    created_at: datetime
    policy_version: str
    hold_until: datetime | None = None


def new_id() -> str:
    return secrets.token_hex(16)


def tx_keys(session: Session) -> dict[str, bytes]:
    """Unwrapped keys cached for the session's innermost open transaction only.

    The cache is tied to the transaction object: a new transaction (or a savepoint, whose
    rollback could undo a key it created) starts empty, so an unwrapped key never outlives
    the transaction that read it. It is never written anywhere. Erasure calls
    :func:`forget_keys` after destroying keys.
    """
    txn = session.get_nested_transaction() or session.get_transaction()
    if txn is None:
        return {}
    held = session.info.get(_KEYS)
    if held is None or held[0] is not txn:
        held = (txn, {})
        session.info[_KEYS] = held
    cache: dict[str, bytes] = held[1]
    return cache


def forget_keys(session: Session) -> None:
    """Drop every cached unwrapped key of ``session`` (after keys were destroyed)."""
    session.info.pop(_KEYS, None)


_ID = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


def shown(name: str) -> str:
    """``name`` quoted when it looks like an id; otherwise a placeholder (it may be data)."""
    return repr(name) if _ID.match(name) else "(a name that is not an id)"


class VaultCore:
    """Plumbing, subjects, identities, restriction and events; see :class:`Vault`."""

    def __init__(
        self,
        engine: Engine,
        manifest: Manifest,
        keyring: KeyRing,
        audit: AuditLog,
        clock: Clock,
        ledger_path: Path,
    ) -> None:
        self.engine = engine
        self.manifest = manifest
        self.keyring = keyring
        self.audit = audit
        self.clock = clock
        self.ledger_path = ledger_path
        self._index_key: bytes | None = None
        self._access = AccessCache(manifest)

    @property
    def access(self) -> AccessCache:
        """Access decisions for the current manifest (see :class:`AccessCache`)."""
        if self._access.manifest is not self.manifest:
            self._access = AccessCache(self.manifest)
        return self._access

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def now(self) -> datetime:
        return utc(self.clock.now())

    def index_key(self) -> bytes:
        """The blind-index key (kept in memory for the vault's lifetime, like the KEK)."""
        if self._index_key is None:
            with self.tx() as s:
                row = s.get(KeyRow, INDEX_KEY_ID)
                if row is None:
                    key = crypto.new_key()
                    wrapped, kid = self.keyring.wrap(key, INDEX_KEY_ID)
                    s.add(
                        KeyRow(
                            id=INDEX_KEY_ID,
                            subject_id=None,
                            kind="index",
                            wrapped=wrapped,
                            kek_id=kid,
                            created_at=self.now(),
                        )
                    )
                else:
                    key = self.keyring.unwrap(row.wrapped, row.id, row.kek_id)
            self._index_key = key
        return self._index_key

    def digest(self, kind: str, value: str) -> bytes:
        return crypto.blind_index(self.index_key(), kind, value)

    def emit(
        self,
        session: Session | None,
        actor: Actor,
        action: str,
        outcome: str,
        *,
        purpose: str | None = None,
        subject: Subject | None = None,
        detail: Mapping[str, DetailValue] | None = None,
    ) -> int:
        event = AuditEvent(
            actor=actor.label,
            action=action,
            outcome=outcome,  # type: ignore[arg-type]
            purpose=purpose,
            subject=subject.id if subject else None,
            customer=subject.customer_id if subject else None,
            detail=dict(detail or {}),
        )
        return self.audit.write(session, event)

    def guard(
        self,
        actor: Actor,
        action: str,
        verb: str,
        *,
        purpose: str | None,
        category: str | None = None,
        subject: Subject | None = None,
        customer: str | None = None,
        machine: str | None = None,
        storage_only: bool = False,
        scope_known: bool = True,
        rights_request: str | None = None,
    ) -> None:
        """Check access; on refusal record it (own transaction) and raise.

        ``rights_request`` (a request id) lets the request engine's system actor read a
        restricted subject to answer that person's own request (Art. 18(2)).
        """
        subject_customer = subject.customer_id if subject is not None else customer
        try:
            if purpose is None:
                check_action(
                    self.manifest,
                    actor,
                    verb,
                    subject_customer=subject_customer,
                    subject=subject.id if subject else None,
                )
            else:
                self.access.check(
                    actor,
                    purpose,
                    category,
                    verb,
                    subject_customer=subject_customer,
                    machine=machine,
                    subject=subject.id if subject else None,
                    scope_known=scope_known,
                )
            if rights_request is not None and (actor.kind != "system" or actor.id != RIGHTS_ACTOR):
                raise AccessDenied(
                    f"only system:{RIGHTS_ACTOR} may act for the person's own request"
                )
            exempt = rights_request is not None
            if subject is not None and subject.restricted and not (storage_only or exempt):
                raise SubjectRestricted(
                    f"subject {subject.id} is restricted (Art. 18): storage only"
                )
        except AccessDenied as exc:
            detail: dict[str, DetailValue] = {"reason": exc.reason}
            if category:
                detail["category"] = category
            self.emit(
                None, actor, action, "denied", purpose=purpose, subject=subject, detail=detail
            )
            raise

    def subject_row(self, session: Session, subject_id: str) -> SubjectRow:
        row = session.get(SubjectRow, subject_id)
        if row is None:
            if self.was_erased(session, subject_id):
                raise KeyDestroyed(f"subject {subject_id} was erased; its keys are destroyed")
            raise NotFound(f"no subject {subject_id}")
        return row

    def _read_subject(self, s: Session, subject_id: str) -> SubjectRef:
        """The subject to read, with its wrapped DEK in the same query (unwrapped into the
        transaction's key cache); raises like :meth:`subject_row` when it is missing."""
        key_id = f"{subject_id}:dek"
        row = s.connection().execute(_SUBJECT_WITH_DEK, {"subject": subject_id, "key": key_id})
        found = row.first()
        if found is None:  # raises NotFound or KeyDestroyed (or it was just inserted)
            live = self.subject_row(s, subject_id)
            return SubjectRef(live.id, live.customer_id, live.restricted, live.erased_at)
        sid, customer, restricted, erased, wrapped, kek = found
        if wrapped is not None:
            keys = tx_keys(s)
            if key_id not in keys:
                keys[key_id] = self.keyring.unwrap(wrapped, key_id, kek)
        return SubjectRef(sid, customer, bool(restricted), erased)

    def was_erased(self, session: Session, subject_id: str) -> bool:
        hit = session.scalar(
            select(ErasureRow.seq)
            .where(ErasureRow.subject_id == subject_id, ErasureRow.categories.is_(None))
            .limit(1)
        )
        return hit is not None

    def key(
        self, session: Session, subject: Subject, key_ref: str, *, create: bool = False
    ) -> bytes:
        """Unwrap one of the subject's keys; ``create`` makes it when a live subject lacks it.

        Every subject gets its DEK at creation, so a missing DEK means it was destroyed.
        """
        key_id = f"{subject.id}:{key_ref}"
        cache = tx_keys(session)
        if key_id in cache:
            return cache[key_id]
        row = session.get(KeyRow, key_id)
        if row is not None:
            cache[key_id] = self.keyring.unwrap(row.wrapped, key_id, row.kek_id)
            return cache[key_id]
        if subject.erased_at is not None or not create:
            raise KeyDestroyed(f"the key of subject {subject.id} was destroyed (erased)")
        key = crypto.new_key()
        wrapped, kid = self.keyring.wrap(key, key_id)
        session.add(
            KeyRow(
                id=key_id,
                subject_id=subject.id,
                kind=key_ref,
                wrapped=wrapped,
                kek_id=kid,
                created_at=self.now(),
            )
        )
        session.flush()
        cache[key_id] = key
        return key

    def preload_keys(self, session: Session, subject_ids: Iterable[str], key_ref: str) -> None:
        """Unwrap the ``key_ref`` key of many subjects with one query per 500 (batch paths)."""
        cache = tx_keys(session)
        wanted = [f"{sid}:{key_ref}" for sid in subject_ids]
        wanted = [k for k in wanted if k not in cache]
        for start in range(0, len(wanted), CHUNK):
            rows = session.execute(
                select(KeyRow.id, KeyRow.wrapped, KeyRow.kek_id).where(
                    KeyRow.id.in_(wanted[start : start + CHUNK])
                )
            )
            for key_id, wrapped, kek in rows:
                cache[key_id] = self.keyring.unwrap(wrapped, key_id, kek)

    def subject_refs(self, session: Session, subject_ids: Iterable[str]) -> dict[str, SubjectRef]:
        """Many subjects by id (plain values, one query per 500); raises like
        :meth:`subject_row` for a missing or erased one."""
        ids = list(dict.fromkeys(subject_ids))
        found: dict[str, SubjectRef] = {}
        cols = (SubjectRow.id, SubjectRow.customer_id, SubjectRow.restricted, SubjectRow.erased_at)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            for row in session.execute(select(*cols).where(SubjectRow.id.in_(chunk))):
                found[row[0]] = SubjectRef(*row)
        for sid in ids:
            if sid not in found:
                self.subject_row(session, sid)  # raises NotFound or KeyDestroyed
        return found

    # ------------------------------------------------------------------ customers

    def create_customer(self, actor: Actor, name: str, org_number: str | None = None) -> str:
        """A customer organisation (B2B tenant); returns its id."""
        self.guard(actor, "vault.create_customer", "write", purpose=None)
        cid = new_id()
        with self.tx() as s:
            s.add(
                CustomerRow(
                    id=cid,
                    name=name,
                    created_at=self.now(),
                    org_index=self.digest("org_number", org_number) if org_number else None,
                )
            )
            self.emit(s, actor, "vault.create_customer", "done", detail={"customer": cid})
        return cid

    def find_customer(self, org_number: str) -> str | None:
        digest = self.digest("org_number", org_number)
        with self.tx() as s:
            return s.scalar(select(CustomerRow.id).where(CustomerRow.org_index == digest).limit(1))

    def customer_name(self, customer_id: str) -> str:
        with self.tx() as s:
            row = s.get(CustomerRow, customer_id)
            if row is None:
                raise NotFound(f"no customer {customer_id}")
            return row.name

    # ------------------------------------------------------------------ subjects

    def create_subject(
        self,
        actor: Actor,
        purpose: str,
        identities: Mapping[str, str],
        customer: str | None = None,
        source: str = "person",
    ) -> str:
        """A new subject with its identities; returns its random pseudonymous id."""
        _check_identities(identities)
        self.guard(actor, "vault.create_subject", "write", purpose=purpose, customer=customer)
        sid = new_id()
        with self.tx() as s:
            if customer is not None and s.get(CustomerRow, customer) is None:
                raise NotFound(f"no customer {customer}")
            row = SubjectRow(
                id=sid, customer_id=customer, source=source, created_at=self.now(), restricted=False
            )
            s.add(row)
            s.flush()
            dek = self.key(s, row, "dek", create=True)
            for kind, value in identities.items():
                self.set_identity(s, row, dek, kind, value)
            self.emit(
                s,
                actor,
                "vault.create_subject",
                "done",
                purpose=purpose,
                subject=row,
                detail={"identities": len(identities), "source": source},
            )
        return sid

    def set_identity(self, s: Session, subject: Subject, dek: bytes, kind: str, value: str) -> None:
        digest = self.digest(kind, value)
        other = s.scalar(
            select(IdentityRow).where(IdentityRow.kind == kind, IdentityRow.digest == digest)
        )
        if other is not None and other.subject_id != subject.id:
            raise DuplicateSubject(kind, other.subject_id)
        sealed = crypto.seal(
            dek, value.encode(), crypto.identity_aad(subject.customer_id, subject.id, kind)
        )
        mine = other or s.scalar(
            select(IdentityRow).where(
                IdentityRow.subject_id == subject.id, IdentityRow.kind == kind
            )
        )
        if mine is None:
            s.add(IdentityRow(subject_id=subject.id, kind=kind, digest=digest, sealed=sealed))
        else:
            mine.digest, mine.sealed = digest, sealed
        try:
            s.flush()
        except IntegrityError:  # a concurrent writer took the identity
            raise DuplicateSubject(kind, "concurrent") from None

    def find_subject(self, actor: Actor, purpose: str, kind: str, value: str) -> str | None:
        """The subject with this identity (blind-index lookup), or None."""
        _check_identities({kind: value})
        digest = self.digest(kind, value)
        with self.tx() as s:  # lookup, check and audit event in one transaction
            found = s.connection().execute(_FIND, {"kind": kind, "digest": digest}).first()
            subject = SubjectRef(found[0], found[1], bool(found[2]), found[3]) if found else None
            self.guard(
                actor,
                "vault.find",
                "read",
                purpose=purpose,
                subject=subject,
                storage_only=True,
                scope_known=subject is not None,
            )
            self.emit(
                s,
                actor,
                "vault.find",
                "allowed",
                purpose=purpose,
                subject=subject,
                detail={"kind": kind, "found": subject is not None},
            )
        return subject.id if subject else None

    def identities(
        self, actor: Actor, purpose: str, subject_id: str, *, rights_request: str | None = None
    ) -> dict[str, str]:
        """The subject's identity values (decrypted); ``rights_request``: see :meth:`guard`."""
        with self.tx() as s:
            subject = self._read_subject(s, subject_id)
            self.guard(
                actor,
                "vault.identities",
                "read",
                purpose=purpose,
                subject=subject,
                rights_request=rights_request,
            )
            rows = s.connection().execute(_IDENTITIES, {"subject": subject_id}).all()
            aead = crypto.cipher(self.key(s, subject, "dek"))  # KeyDestroyed once erased
            out = {
                kind: crypto.open_with(
                    aead, sealed, crypto.identity_aad(subject.customer_id, subject.id, kind)
                ).decode()
                for kind, sealed in rows
            }
            self.emit(
                s,
                actor,
                "vault.identities",
                "allowed",
                purpose=purpose,
                subject=subject,
                detail={"count": len(out), **own_rights(subject, rights_request)},
            )
        return out

    def subject_customer(self, subject_id: str) -> str | None:
        with self.tx() as s:
            return self.subject_row(s, subject_id).customer_id

    def exists(self, subject_id: str) -> bool:
        """True while the subject has a live (not erased) row."""
        with self.tx() as s:
            row = s.get(SubjectRow, subject_id)
            return row is not None and row.erased_at is None

    # ------------------------------------------------------------------ restriction

    def restrict(self, actor: Actor, subject_id: str, reason: str) -> None:
        """Art. 18: from now on the subject's data is only stored."""
        self._set_restricted(actor, subject_id, True, reason)

    def lift_restriction(self, actor: Actor, subject_id: str) -> None:
        self._set_restricted(actor, subject_id, False, None)

    def _set_restricted(self, actor: Actor, subject_id: str, on: bool, reason: str | None) -> None:
        action = "vault.restrict" if on else "vault.lift_restriction"
        with self.tx() as s:
            subject = self.subject_row(s, subject_id)
            self.guard(
                actor, action, "manage_requests", purpose=None, subject=subject, storage_only=True
            )
            subject.restricted, subject.restricted_reason = on, reason
            self.emit(s, actor, action, "done", subject=subject)

    def is_restricted(self, subject_id: str) -> bool:
        with self.tx() as s:
            return self.subject_row(s, subject_id).restricted

    # ------------------------------------------------------------------ events

    def record_event(self, actor: Actor, subject_id: str, event: str, at: datetime) -> None:
        """Set a retention anchor (last_login, contract_end, deregistered...)."""
        with self.tx() as s:
            subject = self.subject_row(s, subject_id)
            self.guard(
                actor, "vault.event", "write", purpose=None, subject=subject, storage_only=True
            )
            row = s.get(EventRow, (subject_id, event))
            if row is None:
                s.add(EventRow(subject_id=subject_id, event=event, at=utc(at)))
            else:
                row.at = utc(at)
            self.emit(s, actor, "vault.event", "done", subject=subject, detail={"event": event})

    def events(self, subject_id: str) -> dict[str, datetime]:
        with self.tx() as s:
            rows = s.scalars(select(EventRow).where(EventRow.subject_id == subject_id))
            return {r.event: utc(r.at) for r in rows}

    def subjects_with_event_before(
        self, event: str, before: datetime, batch: int = 1000
    ) -> Iterator[list[str]]:
        """Subject ids whose ``event`` happened before ``before``, in batches."""
        after = ""
        while True:
            with self.tx() as s:
                ids = list(
                    s.scalars(
                        select(EventRow.subject_id)
                        .where(
                            EventRow.event == event,
                            EventRow.at < utc(before),
                            EventRow.subject_id > after,
                        )
                        .order_by(EventRow.subject_id)
                        .limit(batch)
                    )
                )
            if not ids:
                return
            yield ids
            after = ids[-1]


# read paths: the subject with its DEK row in one query (outer join: a destroyed key reads
# as NULL)
_SUBJECT_WITH_DEK = (
    select(
        SubjectRow.id,
        SubjectRow.customer_id,
        SubjectRow.restricted,
        SubjectRow.erased_at,
        KeyRow.wrapped,
        KeyRow.kek_id,
    )
    .outerjoin(KeyRow, KeyRow.id == bindparam("key"))
    .where(SubjectRow.id == bindparam("subject"))
)
_IDENTITIES = select(IdentityRow.kind, IdentityRow.sealed).where(
    IdentityRow.subject_id == bindparam("subject")
)
# find_subject: the subject behind a blind-index digest, as plain values (Core, no ORM)
_FIND = (
    select(SubjectRow.id, SubjectRow.customer_id, SubjectRow.restricted, SubjectRow.erased_at)
    .join(IdentityRow, IdentityRow.subject_id == SubjectRow.id)
    .where(IdentityRow.kind == bindparam("kind"), IdentityRow.digest == bindparam("digest"))
)


def own_rights(subject: Subject, rights_request: str | None) -> dict[str, DetailValue]:
    """Audit detail of a read for the person's own request (the Art. 18(2) exemption)."""
    if rights_request is None:
        return {}
    detail: dict[str, DetailValue] = {"request": rights_request}
    if subject.restricted:
        detail["exemption"] = OWN_RIGHTS
    return detail


def _check_identities(identities: Mapping[str, str]) -> None:
    for kind, value in identities.items():
        if kind not in IDENTITY_KINDS:
            raise VaultError(f"unknown identity kind {kind!r}; use one of {IDENTITY_KINDS}")
        if not isinstance(value, str) or not value.strip():
            raise VaultError(f"identity {kind!r} is empty")
