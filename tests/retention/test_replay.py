"""Record-level retention deletions are in the erasure ledger: a backup restore followed by
``vault replay-erasures`` keeps them gone (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.manifest.model import Anchor, Duration, RetentionAction, RetentionRule
from integritet.retention import run
from integritet.settings import Settings
from integritet.vault.tables import RecordRow

from .conftest import APP, opened, person

RULE = RetentionRule(
    id="access-log-30d",
    categories=["access_log"],
    duration=Duration.parse("30d"),
    anchor=Anchor.collected,
    action=RetentionAction.delete,
)
TABLE = RecordRow.__table__


def backup(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(TABLE)).mappings()]


def restore(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Put the records table back as it was in the backup."""
    with engine.begin() as conn:
        conn.execute(delete(TABLE))
        conn.execute(insert(TABLE), rows)


def categories(vault: Any, subject_id: str) -> list[str]:
    return sorted(r.category for r in vault.records(APP, "account", subject_id))


def test_retention_deletions_stay_gone_after_restore_and_replay(
    retention_settings: Settings, loggamera: Manifest, clock: FixedClock
) -> None:
    manifest = loggamera.model_copy(update={"retention": [RULE]})
    vault = opened(retention_settings, manifest, clock)
    try:
        old = person(vault, "old@example.se", categories=("contact", "access_log"))
        clock.advance(timedelta(days=20))
        new = person(vault, "new@example.se", categories=("contact", "access_log"))
        saved = backup(vault.engine)
        clock.advance(timedelta(days=15))  # old's log is 35 days old, new's 15

        report = run(manifest, vault, clock)
        assert report.done == 1 and report.erased_subjects == 0
        assert categories(vault, old) == ["contact"]
        ledger = [json.loads(line) for line in vault.ledger_path.read_text().splitlines()]
        assert [(e["rule"], len(e["records"])) for e in ledger] == [("access-log-30d", 1)]
        assert "old@example.se" not in vault.ledger_path.read_text()
        deletes = [e for e in vault.audit.entries() if e.action == "vault.delete_records"]
        assert [(e.detail["rule"], e.detail["records"]) for e in deletes] == [("access-log-30d", 1)]

        restore(vault.engine, saved)
        assert categories(vault, old) == ["access_log", "contact"]  # the restore brought it back
        result = vault.replay_erasures(Actor.system("ops"))
        assert (result.entries, result.erased_records) == (1, 1)
        assert categories(vault, old) == ["contact"]
        assert categories(vault, new) == ["access_log", "contact"]
        assert vault.replay_erasures(Actor.system("ops")).erased_records == 0
        assert vault.audit.verify().ok
    finally:
        vault.engine.dispose()


def test_delete_records_leaves_held_and_restricted_records(
    retention_settings: Settings, loggamera: Manifest, clock: FixedClock
) -> None:
    vault = opened(retention_settings, loggamera, clock)
    try:
        sid = person(vault, "held@example.se", categories=("contact", "sales"))
        locked = person(vault, "locked@example.se", categories=("contact",))
        vault.restrict(APP, locked, "accuracy contested")
        ids = {r.id: r.category for r in vault.records(APP, "accounting", sid)}
        with vault.tx() as s:
            ids |= {
                i: "contact"
                for i in s.scalars(select(RecordRow.id).where(RecordRow.subject_id == locked))
            }
        seen: list[set[str]] = []
        gone = vault.delete_records(
            APP, "accounting", list(ids), rule="test", on_delete=lambda _s, g: seen.append(g)
        )
        assert {ids[i] for i in gone} == {"contact"} and len(gone) == 1
        assert seen == [gone]
        assert [r.category for r in vault.records(APP, "accounting", sid)] == ["sales"]
        assert vault.delete_records(APP, "accounting", [], rule="test") == set()
    finally:
        vault.engine.dispose()


def test_a_refused_delete_is_rolled_back_and_audited(
    retention_settings: Settings, loggamera: Manifest, clock: FixedClock
) -> None:
    from integritet.errors import AccessDenied

    vault = opened(retention_settings, loggamera, clock)
    try:
        sid = person(vault, "kept@example.se", categories=("contact", "access_log"))
        ids = {r.id for r in vault.records(APP, "account", sid)}
        support = Actor.staff("sam", "support")  # may read and write, not erase
        ledger_before = vault.ledger_path.read_text() if vault.ledger_path.exists() else ""
        with pytest.raises(AccessDenied):
            vault.delete_records(support, "account", sorted(ids), rule="test")
        where = RecordRow.subject_id == sid
        with pytest.raises(AccessDenied):
            vault.delete_where(support, "account", where, rule="test")
        assert {r.id for r in vault.records(APP, "account", sid)} == ids
        assert (vault.ledger_path.read_text() if vault.ledger_path.exists() else "") == (
            ledger_before
        )
        denied = [e for e in vault.audit.entries() if e.action == "vault.delete_records"]
        assert [e.outcome for e in denied] == ["denied", "denied"]
        assert vault.audit.verify().ok
    finally:
        vault.engine.dispose()
