"""The vault's record API on SQLite and PostgreSQL: create, find, put, read, update, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.audit import AuditEventRow
from integritet.clock import FixedClock
from integritet.errors import (
    AccessDenied,
    DuplicateSubject,
    KeyDestroyed,
    NotFound,
    SubjectRestricted,
    VaultError,
)
from integritet.vault import Vault
from integritet.vault.tables import RecordRow


def _audit(vault: Vault) -> list[tuple[str, str, str | None]]:
    with Session(vault.engine) as s:
        rows = s.scalars(select(AuditEventRow).order_by(AuditEventRow.position))
        return [(r.action, r.outcome, r.subject) for r in rows]


def test_create_find_put_read_round_trip(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(
        system, "account", {"email": "Anna@Example.se", "phone": "070-123 45 67"}
    )
    assert len(sid) == 32 and sid != "anna"
    assert vault.find_subject(system, "account", "email", "  anna@example.SE") == sid
    assert vault.find_subject(system, "account", "phone", "+46701234567") == sid
    assert vault.find_subject(system, "account", "email", "nobody@example.se") is None
    rid = vault.put_record(system, "account", sid, "contact", {"name": "Anna Berg"}, "person")
    [record] = vault.records(system, "account", sid, "contact")
    assert record.id == rid
    assert record.fields == {"name": "Anna Berg"}
    assert record.policy_version == vault.manifest.policy.version
    assert record.source == "person"
    assert record.hold_until is None
    assert vault.identities(system, "account", sid) == {
        "email": "Anna@Example.se",
        "phone": "070-123 45 67",
    }


def test_update_merges_fields_and_moves_the_blind_index(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "old@example.se"})
    rid = vault.put_record(
        system, "account", sid, "contact", {"name": "Bo", "email": "old@example.se"}, "person"
    )
    vault.update_record(system, "account", rid, {"email": "new@example.se"})
    [record] = vault.records(system, "account", sid, "contact")
    assert record.fields == {"name": "Bo", "email": "new@example.se"}
    assert vault.find_subject(system, "account", "email", "new@example.se") == sid
    assert vault.find_subject(system, "account", "email", "old@example.se") is None


def test_duplicate_identity_is_refused(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "a@example.se"})
    with pytest.raises(DuplicateSubject) as info:
        vault.create_subject(system, "account", {"email": "A@example.se"})
    assert info.value.subject_id == sid
    assert "a@example.se" not in str(info.value).lower()


def test_unknown_field_category_and_source_are_refused(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "c@example.se"})
    with pytest.raises(VaultError, match="no field 'shoe_size'"):
        vault.put_record(system, "account", sid, "contact", {"shoe_size": 42}, "person")
    with pytest.raises(VaultError, match="not declared"):
        vault.put_record(system, "account", sid, "telepathy", {"x": 1}, "person")
    with pytest.raises(VaultError, match="source 'machine'"):
        vault.put_record(system, "account", sid, "contact", {"name": "C"}, "machine")
    with pytest.raises(NotFound):
        vault.records(system, "account", "0" * 32)


def test_access_denied_is_audited_and_allowed_reads_too(
    vault: Vault, system: Actor, support: Actor
) -> None:
    sid = vault.create_subject(system, "accounting", {"email": "d@example.se"})
    vault.put_record(system, "accounting", sid, "sales", {"order": "1", "amount": 5}, "person")
    with pytest.raises(AccessDenied, match="does not serve purpose 'accounting'"):
        vault.records(support, "accounting", sid, "sales")
    with pytest.raises(AccessDenied, match="may not use category 'sales'"):
        vault.records(support, "account", sid, "sales")
    assert vault.records(support, "account", sid) == []  # sales is not readable for account
    events = _audit(vault)
    assert ("vault.read", "denied", sid) in events
    assert ("vault.read", "allowed", sid) in events
    assert ("vault.write", "done", sid) in events
    assert vault.audit.verify().ok


def test_records_without_category_returns_only_readable_ones(
    vault: Vault, system: Actor, dpo: Actor
) -> None:
    sid = vault.create_subject(system, "account", {"email": "e@example.se"})
    vault.put_record(system, "account", sid, "contact", {"name": "E"}, "person")
    vault.put_record(system, "accounting", sid, "sales", {"order": "9"}, "person")
    assert {r.category for r in vault.records(dpo, "accounting", sid)} == {"contact", "sales"}
    assert {r.category for r in vault.records(dpo, "account", sid)} == {"contact"}


def test_restricted_subject_refuses_all_but_storage(
    vault: Vault, system: Actor, support: Actor
) -> None:
    sid = vault.create_subject(system, "account", {"email": "r@example.se"})
    vault.put_record(system, "account", sid, "contact", {"name": "R"}, "person")
    vault.restrict(support, sid, "accuracy contested")
    assert vault.is_restricted(sid)
    with pytest.raises(SubjectRestricted):
        vault.records(system, "account", sid)
    with pytest.raises(SubjectRestricted):
        vault.put_record(system, "account", sid, "contact", {"name": "R2"}, "person")
    with pytest.raises(SubjectRestricted):
        vault.identities(system, "account", sid)
    with pytest.raises(SubjectRestricted):
        vault.erase(system, "account", sid)
    # storage goes on: the data is still there, and it can still be found to lift it
    assert vault.find_subject(system, "account", "email", "r@example.se") == sid
    vault.lift_restriction(support, sid)
    assert [r.fields for r in vault.records(system, "account", sid)] == [{"name": "R"}]


def test_events_and_batched_query(vault: Vault, system: Actor, clock: FixedClock) -> None:
    ids = [vault.create_subject(system, "account", {"email": f"u{i}@example.se"}) for i in range(5)]
    base = datetime(2022, 1, 1, tzinfo=UTC)
    for i, sid in enumerate(ids):
        vault.record_event(system, sid, "last_login", base + timedelta(days=i))
    assert vault.events(ids[2]) == {"last_login": base + timedelta(days=2)}
    batches = list(vault.subjects_with_event_before("last_login", base + timedelta(days=3), 2))
    assert [len(b) for b in batches] == [2, 1]
    assert {s for b in batches for s in b} == set(ids[:3])


def test_legal_hold_records_get_their_own_key_and_date(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "accounting", {"email": "h@example.se"})
    rid = vault.put_record(system, "accounting", sid, "sales", {"order": "7"}, "person")
    [record] = vault.records(system, "accounting", sid, "sales")
    # bokforing: 7 years after the end of the fiscal year (2026) of the sale
    assert record.hold_until == datetime(2033, 12, 31, 23, 59, 59, tzinfo=UTC)
    with Session(vault.engine) as s:
        row = s.get(RecordRow, rid)
        assert row is not None and row.key_ref == "hold:bokforing"


def test_ciphertext_moved_to_another_record_fails(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "m@example.se"})
    a = vault.put_record(system, "account", sid, "contact", {"name": "A"}, "person")
    b = vault.put_record(system, "account", sid, "contact", {"name": "B"}, "person")
    with Session(vault.engine) as s, s.begin():
        ra, rb = s.get(RecordRow, a), s.get(RecordRow, b)
        assert ra is not None and rb is not None
        rb.sealed = ra.sealed
    with pytest.raises(VaultError, match="authentication failed"):
        vault.records(system, "account", sid, "contact")


def test_erased_subject_reports_key_destroyed(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "x@example.se"})
    vault.put_record(system, "account", sid, "contact", {"name": "X"}, "person")
    vault.erase(system, "account", sid)
    with pytest.raises(KeyDestroyed):
        vault.records(system, "account", sid, "contact")
    with pytest.raises(KeyDestroyed):
        vault.put_record(system, "account", sid, "contact", {"name": "X"}, "person")
