"""Batch writes on SQLite and PostgreSQL: put_records, the per-transaction key cache, batched
import."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.audit import AuditEventRow
from integritet.errors import AccessDenied, KeyDestroyed, NotFound, VaultError
from integritet.vault import NewRecord, Vault, crypto
from integritet.vault.core import tx_keys
from integritet.vault.erasure import LedgerEntry
from integritet.vault.importer import Importer
from integritet.vault.tables import RecordRow, SubjectRow


def _events(vault: Vault, action: str) -> list[AuditEventRow]:
    with Session(vault.engine) as s:
        return list(s.scalars(select(AuditEventRow).where(AuditEventRow.action == action)))


def _record_count(vault: Vault) -> int:
    with Session(vault.engine) as s:
        return int(s.scalar(select(func.count()).select_from(RecordRow)) or 0)


def test_put_records_round_trip_with_one_audit_event(vault: Vault, system: Actor) -> None:
    a = vault.create_subject(system, "account", {"email": "a@example.se"})
    b = vault.create_subject(system, "account", {"email": "b@example.se"})
    items = [
        NewRecord(a, "contact", {"name": "Ada"}, "person"),
        NewRecord(b, "contact", {"name": "Bo"}, "person"),
        NewRecord(a, "sales", {"order": "O1", "amount": "10"}, "person"),
        NewRecord(a, "contact", {"phone": "070-111 22 33"}, "person"),
    ]
    ids = vault.put_records(system, "accounting", items)
    assert len(set(ids)) == 4
    got = {r.id: r for r in vault.records(system, "accounting", a)}
    assert got[ids[0]].fields == {"name": "Ada"}
    assert got[ids[2]].fields == {"order": "O1", "amount": "10"}
    assert got[ids[2]].hold_until is not None  # sales is under the bokforing hold
    assert got[ids[3]].policy_version == vault.manifest.policy.version
    [bo] = vault.records(system, "accounting", b)
    assert (bo.id, bo.fields) == (ids[1], {"name": "Bo"})
    # an identity field in a batch moves the blind index like put_record does
    assert vault.find_subject(system, "account", "phone", "+46701112233") == a
    [event] = _events(vault, "vault.write")
    assert event.subject is None
    detail = json.loads(event.detail)
    assert (detail["records"], detail["subjects"], detail["categories"]) == (4, 2, "contact,sales")
    assert vault.audit.verify().ok


def test_put_records_names_the_subject_of_a_single_subject_batch(
    vault: Vault, system: Actor
) -> None:
    sid = vault.create_subject(system, "account", {"email": "one@example.se"})
    items = [NewRecord(sid, "contact", {"name": f"N{i}"}, "person") for i in range(3)]
    vault.put_records(system, "account", items)
    [event] = _events(vault, "vault.write")
    assert event.subject == sid
    assert len(vault.records(system, "account", sid, "contact")) == 3
    assert vault.put_records(system, "account", []) == []


def test_put_records_is_all_or_nothing(vault: Vault, system: Actor, support: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "x@example.se"})
    good = NewRecord(sid, "contact", {"name": "X"}, "person")
    with pytest.raises(VaultError, match="no field"):
        vault.put_records(
            system, "account", [good, NewRecord(sid, "contact", {"bad": 1}, "person")]
        )
    with pytest.raises(VaultError, match="source"):
        vault.put_records(system, "account", [good, NewRecord(sid, "contact", {}, "machine")])
    with pytest.raises(NotFound):
        vault.put_records(system, "account", [good, NewRecord("0" * 32, "contact", {}, "person")])
    # support may not write sales: refused, audited, and nothing of the batch is stored
    sales = NewRecord(sid, "sales", {"order": "O"}, "person")
    with pytest.raises(AccessDenied):
        vault.put_records(support, "accounting", [good, sales])
    assert [e.outcome for e in _events(vault, "vault.write")] == ["denied"]
    assert _record_count(vault) == 0
    vault.erase(system, "account", sid)
    with pytest.raises(KeyDestroyed):
        vault.put_records(system, "account", [good])


def test_unwrapped_keys_live_for_one_transaction_only(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "k@example.se"})
    with vault.tx() as s:
        subject = s.get(SubjectRow, sid)
        assert subject is not None
        dek = vault.key(s, subject, "dek")
        assert tx_keys(s) == {f"{sid}:dek": dek}
        assert vault.key(s, subject, "dek") is dek  # served from the cache
        with s.begin_nested():
            assert tx_keys(s) == {}  # a savepoint starts empty (its rollback may undo keys)
        assert tx_keys(s) == {}
    with vault.tx() as s:
        assert tx_keys(s) == {}
    with Session(vault.engine) as s:
        assert tx_keys(s) == {}  # no transaction: nothing is kept


def test_erasure_drops_cached_keys(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "e@example.se"})
    vault.put_record(system, "account", sid, "contact", {"name": "E"}, "person")
    with vault.tx() as s:
        subject = s.get(SubjectRow, sid)
        assert subject is not None
        vault.key(s, subject, "dek")
        vault.preload_keys(s, [sid], "dek")
        assert f"{sid}:dek" in tx_keys(s)
        vault._erase_in(s, subject, _entry(sid))
        assert tx_keys(s) == {}


def _entry(sid: str) -> LedgerEntry:
    return LedgerEntry(sid, None, datetime(2024, 1, 1, tzinfo=UTC))


def test_batched_import_skips_repeats_and_shares_customers(
    vault: Vault, system: Actor, tmp_path: Path
) -> None:
    csv = tmp_path / "in.csv"
    lines = ["email,phone,contact.name,sales.order,customer,customer_org_number,event.last_login"]
    lines += [
        f"p{i}@example.se,,Person {i},O{i},Acme AB,556677-8899,2024-01-0{1 + i}" for i in range(5)
    ]
    lines += [
        "P1@EXAMPLE.se,,Again,,,,",  # the same person as row 3: skipped
        ",,Nobody,,,,",  # no identity: an error naming the row
        "q@example.se,070-1,Q,,,,",
        "r@example.se,070-1,R,,,,",  # phone taken earlier in the file: skipped
    ]
    csv.write_text("\n".join(lines) + "\n")
    result = Importer(vault, system).run(csv, batch=3)
    assert (result.imported, result.skipped) == (6, 2)
    assert [(e.row, "identity" in e.message) for e in result.errors] == [(8, True)]
    customers = set()
    for i in range(5):
        sid = vault.find_subject(system, "account", "email", f"p{i}@example.se")
        assert sid is not None
        customers.add(vault.subject_customer(sid))
        records = vault.records(system, "accounting", sid)
        assert sorted(r.category for r in records) == ["contact", "sales"]
        assert vault.events(sid)["last_login"].day == 1 + i
    assert len(customers) == 1 and None not in customers
    details = [json.loads(e.detail) for e in _events(vault, "vault.import")]
    assert [d["subjects"] for d in details] == [3, 2, 1]  # batches of 3 valid rows
    assert sum(d["records"] for d in details) == 11
    again = Importer(vault, system).run(csv, batch=100)
    assert (again.imported, again.skipped, len(again.errors)) == (0, 8, 1)
    assert vault.audit.verify().ok


def test_a_refused_batch_is_redone_row_by_row(vault: Vault, system: Actor, tmp_path: Path) -> None:
    taken = vault.create_subject(system, "account", {"email": "taken@example.se"})
    csv = tmp_path / "in.csv"
    # row 3's contact email belongs to another subject: only that row fails
    csv.write_text(
        "email,contact.name,contact.email\n"
        "a@example.se,A,\n"
        "b@example.se,B,taken@example.se\n"
        "c@example.se,C,\n"
    )
    result = Importer(vault, system).run(csv, batch=10)
    assert (result.imported, result.skipped) == (2, 0)
    assert [e.row for e in result.errors] == [3]
    assert vault.find_subject(system, "account", "email", "taken@example.se") == taken
    assert vault.find_subject(system, "account", "email", "b@example.se") is None
    assert vault.find_subject(system, "account", "email", "c@example.se") is not None
    assert len(_events(vault, "vault.import")) == 2  # one per row after the fallback


def test_batch_records_are_bound_to_their_subject_and_id(vault: Vault, system: Actor) -> None:
    """The batch path keeps per-subject keys and per-record AAD: a sealed blob copied onto
    another record (same subject or another one) no longer opens."""
    a = vault.create_subject(system, "account", {"email": "ba@example.se"})
    b = vault.create_subject(system, "account", {"email": "bb@example.se"})
    items = [NewRecord(sid, "contact", {"name": f"first-{sid[:4]}"}, "person") for sid in (a, b)]
    items += [NewRecord(a, "contact", {"name": f"more-{i}"}, "person") for i in range(9)]
    ids = vault.put_records(system, "account", items)
    with Session(vault.engine) as s:
        rows = {r.id: r for r in s.scalars(select(RecordRow).where(RecordRow.id.in_(ids)))}
    assert len({rows[i].sealed[1:13] for i in ids}) == len(ids)  # distinct nonces
    assert {r.key_ref for r in rows.values()} == {"dek"}
    opened = {r.id: r.fields for sid in (a, b) for r in vault.records(system, "account", sid)}
    assert opened == {rid: dict(item.fields) for rid, item in zip(ids, items, strict=True)}
    with vault.tx() as s:
        s.get(RecordRow, ids[2]).sealed = rows[ids[0]].sealed  # type: ignore[union-attr]
        s.get(RecordRow, ids[1]).sealed = rows[ids[0]].sealed  # type: ignore[union-attr]
    with pytest.raises(crypto.OpenFailed):
        vault.records(system, "account", a)  # same subject and key, another record id
    with pytest.raises(crypto.OpenFailed):
        vault.records(system, "account", b)  # another subject's key
