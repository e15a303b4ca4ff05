"""The read path: one query for the subject and its DEK, audit in the read's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.audit import AuditEventRow
from integritet.errors import AccessDenied, KeyDestroyed
from integritet.vault import Vault
from integritet.vault.tables import KeyRow


@contextmanager
def _statements(vault: Vault) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(vault.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(vault.engine, "before_cursor_execute", record)


def _audit(vault: Vault) -> list[tuple[str, str, str | None]]:
    with Session(vault.engine) as s:
        rows = s.scalars(select(AuditEventRow).order_by(AuditEventRow.position))
        return [(r.action, r.outcome, r.subject) for r in rows]


def test_records_reads_subject_and_key_in_one_query(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "q@example.se"})
    vault.put_record(system, "account", sid, "contact", {"name": "Q"}, "person")
    vault.put_record(system, "account", sid, "contact", {"name": "Q2"}, "person")
    support = Actor.staff("anna", "support")
    with _statements(vault) as seen:
        records = vault.records(support, "account", sid)
    assert sorted(r.fields["name"] for r in records) == ["Q", "Q2"]  # same clock: by id
    selects = [q for q in seen if q.upper().startswith("SELECT") and "vault_" in q]
    assert len(selects) == 2, selects  # subject + DEK row, then the records
    assert "vault_subjects" in selects[0] and "vault_keys" in selects[0]
    assert "vault_records" in selects[1]
    assert _audit(vault)[-1] == ("vault.read", "allowed", sid)


def test_a_destroyed_key_row_still_means_no_read(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "k@example.se"})
    vault.put_record(system, "account", sid, "contact", {"name": "K"}, "person")
    assert vault.records(system, "account", sid)  # read once (nothing outlives it)
    with vault.tx() as s:
        s.execute(delete(KeyRow).where(KeyRow.id == f"{sid}:dek"))
    with pytest.raises(KeyDestroyed):
        vault.records(system, "account", sid)


def test_find_is_checked_and_audited_in_one_transaction(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "f@example.se"})
    commits: list[int] = []

    def counted(_conn: Any) -> None:
        commits.append(1)

    event.listen(vault.engine, "commit", counted)
    try:
        assert vault.find_subject(system, "account", "email", "F@example.se") == sid
    finally:
        event.remove(vault.engine, "commit", counted)
    assert len(commits) == 1  # the lookup and its audit event commit together
    assert _audit(vault)[-1] == ("vault.find", "allowed", sid)
    outsider = Actor.staff("eve", "no_such_role")
    with pytest.raises(AccessDenied):
        vault.find_subject(outsider, "account", "email", "f@example.se")
    assert _audit(vault)[-1] == ("vault.find", "denied", sid)
    assert vault.audit.verify().ok
