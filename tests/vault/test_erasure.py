"""Erasure: key destruction, legal holds, the ledger, replay after a backup restore."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.errors import AccessDenied, KeyDestroyed, NotFound
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault import Vault, open_vault
from integritet.vault.erasure import read_ledger
from integritet.vault.tables import IdentityRow, KeyRow, RecordRow, SubjectRow


def _customer_with_sales(vault: Vault, system: Actor, email: str) -> str:
    sid = vault.create_subject(system, "account", {"email": email})
    vault.put_record(system, "account", sid, "contact", {"name": "Lena"}, "person")
    vault.put_record(system, "account", sid, "access_log", {"ip": "192.0.2.1"}, "person")
    vault.put_record(system, "accounting", sid, "sales", {"order": "S1", "amount": 10}, "person")
    return sid


def _count(vault: Vault, model: type, sid: str) -> int:
    with Session(vault.engine) as s:
        return int(
            s.scalar(select(func.count()).select_from(model).where(model.subject_id == sid)) or 0
        )  # type: ignore[attr-defined]


def test_erase_destroys_keys_and_rows_but_keeps_held_sales(
    vault: Vault, system: Actor, dpo: Actor, clock: FixedClock
) -> None:
    sid = _customer_with_sales(vault, system, "lena@example.se")
    result = vault.erase(dpo, "account", sid)
    assert result.erased_categories == ("access_log", "contact")
    assert [(k.category, k.hold_id) for k in result.kept] == [("sales", "bokforing")]
    assert result.audit_position is not None
    assert vault.find_subject(system, "account", "email", "lena@example.se") is None
    assert _count(vault, IdentityRow, sid) == 0
    with Session(vault.engine) as s:
        keys = set(s.scalars(select(KeyRow.id).where(KeyRow.subject_id == sid)))
    assert keys == {f"{sid}:hold:bokforing"}  # the DEK is gone
    [sale] = vault.records(system, "accounting", sid)
    assert sale.fields == {"order": "S1", "amount": 10}
    with pytest.raises(KeyDestroyed):
        vault.records(system, "account", sid, "contact")
    again = vault.erase(dpo, "account", sid)
    assert again.already_erased and len(again.kept) == 1
    assert [e.subject_id for e in read_ledger(vault.ledger_path)] == [sid]
    # when the hold ends, the hold key and the tombstone go too
    clock.advance(timedelta(days=365 * 9))
    assert vault.purge_expired_holds(system) == 1
    assert _count(vault, RecordRow, sid) == 0
    with Session(vault.engine) as s:
        assert s.get(SubjectRow, sid) is None
    with pytest.raises(KeyDestroyed):
        vault.records(system, "accounting", sid)
    assert vault.audit.verify().ok


def test_erase_without_holds_removes_the_subject(vault: Vault, system: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "gone@example.se"})
    vault.put_record(system, "account", sid, "contact", {"name": "G"}, "person")
    result = vault.erase(system, "account", sid)
    assert result.kept == ()
    assert not vault.exists(sid)
    with pytest.raises(NotFound):
        vault.erase(system, "account", "f" * 32)


def test_erase_needs_the_erase_action(vault: Vault, system: Actor, support: Actor) -> None:
    sid = vault.create_subject(system, "account", {"email": "keep@example.se"})
    with pytest.raises(AccessDenied, match="cannot erase"):
        vault.erase(support, "account", sid)
    assert vault.exists(sid)


def test_erase_categories_respects_holds(vault: Vault, system: Actor, clock: FixedClock) -> None:
    sid = _customer_with_sales(vault, system, "cat@example.se")
    assert vault.erase_categories(system, "account", sid, ["access_log"]) == 1
    assert vault.erase_categories(system, "accounting", sid, ["sales"]) == 0  # still held
    clock.advance(timedelta(days=365 * 9))
    assert vault.erase_categories(system, "accounting", sid, ["sales"]) == 1
    assert [r.category for r in vault.records(system, "account", sid)] == ["contact"]


def test_replay_after_backup_restore(
    tmp_path: Path, loggamera: Manifest, clock: FixedClock, system: Actor
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=None, kek=None)
    vault = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    keep = _customer_with_sales(vault, system, "stay@example.se")
    gone = _customer_with_sales(vault, system, "gone@example.se")
    partial = vault.create_subject(system, "account", {"email": "part@example.se"})
    vault.put_record(system, "account", partial, "access_log", {"ip": "192.0.2.9"}, "person")
    db = settings.home / "integritet.db"
    backup = tmp_path / "backup.db"
    with sqlite3.connect(db) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    vault.erase(system, "account", gone)
    vault.erase_categories(system, "account", partial, ["access_log"])
    vault.engine.dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(backup, db)
    restored = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    assert restored.find_subject(system, "account", "email", "gone@example.se") == gone
    result = restored.replay_erasures(system)
    assert (result.entries, result.erased_subjects, result.erased_records) == (2, 1, 1)
    assert restored.find_subject(system, "account", "email", "gone@example.se") is None
    with pytest.raises(KeyDestroyed):
        restored.records(system, "account", gone, "contact")
    assert [r.category for r in restored.records(system, "accounting", gone)] == ["sales"]
    assert restored.records(system, "account", partial) == []
    assert len(restored.records(system, "accounting", keep)) == 2
    assert restored.replay_erasures(system).erased_subjects == 0  # idempotent
    assert restored.audit.verify().ok
    restored.engine.dispose()
