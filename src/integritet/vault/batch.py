"""The batch write path of :meth:`Vault.put_records`: the same sealing, fewer round trips.

Security is the same as for one record: every record is sealed with AES-256-GCM under its
subject's own DEK, with a fresh random nonce and the AAD binding tenant, subject, category
and record id. What a batch saves is the work around that:

- subjects and their wrapped DEKs come from one joined query per 500 subjects;
- each DEK is unwrapped once per batch and one AES-GCM object serves all of its records
  (setting one up costs more than sealing a short record);
- the AAD prefix (tenant, subject, category) is built once per subject and category;
- field names and sources are checked once per category against precomputed sets;
- rows are inserted by one Core multi-row ``INSERT`` (no ORM objects).

Records of a legal-hold category or carrying an identity field (which also moves the blind
index) take the general path (:meth:`Vault.record_values`) inside the same transaction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.manifest.model import Category
from integritet.vault import crypto
from integritet.vault.core import CHUNK, NewRecord, SubjectRef
from integritet.vault.keys import KeyRing
from integritet.vault.tables import KeyRow, SubjectRow

ID_BYTES = 16  # record ids: 16 random bytes in hex, as core.new_id


@dataclass(frozen=True)
class Plan:
    """What the batch path needs of one category, worked out once per batch."""

    spec: Category
    fields: frozenset[str]
    sources: frozenset[str]
    identities: frozenset[str]  # ids of fields marked ``identity`` (they move the index)
    held: bool  # under a legal hold: sealed under a hold key, not the DEK

    @classmethod
    def of(cls, spec: Category, held: bool) -> Plan:
        return cls(
            spec=spec,
            fields=frozenset(f.id for f in spec.fields),
            sources=frozenset(s.value for s in spec.sources),
            identities=frozenset(f.id for f in spec.fields if f.identity),
            held=held,
        )

    def fits(self, item: NewRecord) -> bool:
        """True when the item's fields and source are declared (else check it in full)."""
        return item.source in self.sources and self.fields.issuperset(item.fields)

    def simple(self, item: NewRecord) -> bool:
        """Sealed under the DEK with no side effect (no hold key, no blind-index change)."""
        return not self.held and (not self.identities or self.identities.isdisjoint(item.fields))


def load_subjects(
    session: Session,
    keyring: KeyRing,
    subject_ids: Iterable[str],
    key_ref: str | None,
    cache: dict[str, bytes],
) -> dict[str, SubjectRef]:
    """Subjects by id with their ``key_ref`` key, one joined query per 500 ids.

    Unwrapped keys go into ``cache`` (the transaction's key cache, :func:`tx_keys`) under
    ``"<subject>:<key_ref>"``. Subjects that do not exist are simply absent.
    ``key_ref=None`` loads the subjects alone (the benchmark's plaintext baseline).
    """
    ids = list(dict.fromkeys(subject_ids))
    suffix = f":{key_ref}"
    subject = (SubjectRow.id, SubjectRow.customer_id, SubjectRow.restricted, SubjectRow.erased_at)
    query = (
        select(*subject)
        if key_ref is None
        else select(*subject, KeyRow.wrapped, KeyRow.kek_id).outerjoin(
            KeyRow, KeyRow.id == SubjectRow.id + suffix
        )
    )
    found: dict[str, SubjectRef] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for sid, customer, restricted, erased, *key in session.connection().execute(
            query.where(SubjectRow.id.in_(chunk))
        ):
            found[sid] = SubjectRef(sid, customer, bool(restricted), erased)
            key_id = sid + suffix
            if key and key[0] is not None and key_id not in cache:
                cache[key_id] = keyring.unwrap(key[0], key_id, key[1])
    return found


def seal_rows(
    todo: list[NewRecord],
    plans: Mapping[str, Plan],
    subjects: Mapping[str, SubjectRef],
    keys: Mapping[str, bytes],
    stamp: tuple[datetime, str],
    general: Callable[[NewRecord, Plan, SubjectRef], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The column values of each new record, in order.

    ``keys`` maps ``"<subject>:dek"`` to unwrapped DEKs; ``stamp`` is the batch's clock
    reading and policy version; ``general`` seals one record the general way (holds,
    identity fields, a missing key or an erased subject, where it raises).
    """
    now, version = stamp
    ciphers: dict[str, AESGCM] = {}
    prefixes: dict[tuple[str, str], bytes] = {}
    rows: list[dict[str, Any]] = []
    nonces = crypto.random_blocks(crypto.NONCE_BYTES, len(todo))
    hex_ids = os.urandom(ID_BYTES * len(todo)).hex()
    for n, item in enumerate(todo):
        plan, subject = plans[item.category], subjects[item.subject_id]
        sid = subject.id
        aead = ciphers.get(sid)
        if aead is None:
            key = keys.get(sid + ":dek")
            if key is None or subject.erased_at is not None or not plan.simple(item):
                rows.append(general(item, plan, subject))
                continue
            aead = ciphers[sid] = crypto.cipher(key)
        elif not plan.simple(item):
            rows.append(general(item, plan, subject))
            continue
        prefix = prefixes.get((sid, item.category))
        if prefix is None:
            prefix = crypto.record_aad_prefix(subject.customer_id, sid, item.category)
            prefixes[(sid, item.category)] = prefix
        rid = hex_ids[2 * ID_BYTES * n : 2 * ID_BYTES * (n + 1)]  # like new_id(), drawn at once
        rows.append(
            {
                "id": rid,
                "subject_id": sid,
                "category": item.category,
                "source": item.source,
                "key_ref": "dek",
                "sealed": crypto.seal_with(
                    aead, crypto.fields_bytes(item.fields), prefix + rid.encode(), nonces[n]
                ),
                "policy_version": version,
                "created_at": now,
                "updated_at": now,
                "hold_until": None,
            }
        )
    return rows
