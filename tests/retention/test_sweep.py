from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.manifest.model import Anchor, Duration, RetentionAction, RetentionRule
from integritet.retention import plan, run
from integritet.retention.tables import AggregateRow
from integritet.settings import Settings
from integritet.vault import Vault
from integritet.vault.tables import RecordRow

from .conftest import APP, opened, person

DPO = Actor.staff("dina", "dpo")


def records(vault: Vault, subject_id: str, category: str | None = None) -> int:
    with Session(vault.engine) as s:
        query = select(func.count()).select_from(RecordRow)
        query = query.where(RecordRow.subject_id == subject_id)
        if category:
            query = query.where(RecordRow.category == category)
        return int(s.scalar(query) or 0)


def by_rule(report: object, rule: str, category: str) -> object:
    return next(r for r in report.rules if (r.rule, r.category) == (rule, category))  # type: ignore[attr-defined]


def test_L3_deleted_three_years_after_last_login_sales_kept_under_bokforing(
    vault: Vault, loggamera: Manifest, clock: FixedClock
) -> None:
    start = clock.now()
    gone = person(vault, "old@example.se", last_login=start)
    active = person(vault, "active@example.se", last_login=start)

    clock.advance(timedelta(days=3 * 365 - 40))
    vault.record_event(APP, active, "last_login", clock.now())
    assert plan(loggamera, vault, clock).due == 0

    clock.set(datetime(2029, 1, 16, tzinfo=UTC))  # three years and a day after the login
    report = run(loggamera, vault, clock)

    contact = by_rule(report, "three-years-after-login", "contact")
    assert (contact.due, contact.done, contact.subjects) == (1, 1, 1)  # type: ignore[attr-defined]
    assert contact.oldest == start  # type: ignore[attr-defined]
    assert report.erased_subjects == 1
    assert not vault.exists(gone)
    kept = vault.records(DPO, "accounting", gone, "sales")
    assert [r.fields["order"] for r in kept] == ["A-1"]
    assert kept[0].hold_until is not None and kept[0].hold_until > datetime(2033, 12, 1, tzinfo=UTC)
    assert vault.find_subject(APP, "account", "email", "old@example.se") is None
    assert records(vault, active) == 3

    clock.set(datetime(2034, 1, 2, tzinfo=UTC))  # Bokföringslagen: 7 years after 2026
    vault.record_event(APP, active, "last_login", clock.now())
    report = run(loggamera, vault, clock)
    assert report.purged_holds == 1
    assert records(vault, gone) == 0
    assert records(vault, active) == 3
    audit = list(vault.audit.entries())
    deletes = [e for e in audit if e.action == "retention.delete"]
    assert sum(int(e.detail["records"]) for e in deletes) == 2  # type: ignore[arg-type]
    assert all(e.subject is None and "rule" in e.detail for e in deletes)
    assert vault.audit.verify().ok


def test_dry_run_changes_nothing(vault: Vault, loggamera: Manifest, clock: FixedClock) -> None:
    sid = person(vault, "dry@example.se", last_login=clock.now())
    clock.advance(timedelta(days=4 * 365))
    before = vault.audit.count()

    report = plan(loggamera, vault, clock)

    assert report.dry_run and report.due == 2 and report.done == 0
    assert report.erased_subjects == 1  # would be erased
    assert records(vault, sid) == 3 and vault.exists(sid)
    assert vault.audit.count() == before


def test_deregistration_erases_at_once_and_restricted_subjects_are_skipped(
    vault: Vault, loggamera: Manifest, clock: FixedClock
) -> None:
    leaving = person(vault, "bye@example.se", categories=("contact",))
    held = person(vault, "restricted@example.se", categories=("contact",))
    for sid in (leaving, held):
        vault.record_event(APP, sid, "deregistered", clock.now())
    vault.restrict(DPO, held, "legal claim")
    clock.advance(timedelta(minutes=1))

    report = run(loggamera, vault, clock)

    assert not vault.exists(leaving)
    assert vault.exists(held) and records(vault, held) == 1
    assert by_rule(report, "deregistration", "contact").restricted == 1  # type: ignore[attr-defined]


def test_anonymise_keeps_only_aggregates(
    retention_settings: Settings, loggamera: Manifest, clock: FixedClock
) -> None:
    rule = RetentionRule(
        id="anon-logs",
        categories=["access_log"],
        duration=Duration.parse("90d"),
        anchor=Anchor.collected,
        action=RetentionAction.anonymise,
        aggregates=["count_per_month", "count_per_region"],
    )
    manifest = loggamera.model_copy(update={"retention": [rule]})
    vault = opened(retention_settings, manifest, clock)
    sid = vault.create_subject(APP, "account", {"email": "anon@example.se"})
    vault.put_record(APP, "account", sid, "contact", {"name": "N"}, "person")
    for day in (0, 3, 40):
        clock.set(datetime(2026, 1, 15, tzinfo=UTC) + timedelta(days=day))
        vault.put_record(APP, "account", sid, "access_log", {"ip": "192.0.2.1"}, "person")
    clock.set(datetime(2026, 5, 1, tzinfo=UTC))  # the two January records are past 90 days

    report = run(manifest, vault, clock)

    assert by_rule(report, "anon-logs", "access_log").done == 2  # type: ignore[attr-defined]
    assert records(vault, sid, "access_log") == 1
    with Session(vault.engine) as s:
        rows = {(r.kind, r.bucket): r.count for r in s.scalars(select(AggregateRow))}
    assert rows == {("count_per_month", "2026-01"): 2, ("count_per_region", "Stockholm"): 2}
    assert set(AggregateRow.__table__.columns.keys()) == {
        "id", "rule_id", "category", "kind", "bucket", "count"
    }  # fmt: skip
    vault.engine.dispose()


def test_range_and_id_deletes_remove_exactly_the_due_records(
    retention_settings: Settings, loggamera: Manifest, clock: FixedClock, monkeypatch: object
) -> None:
    """One record per batch: a plainly expired record goes by a range DELETE, one expired
    only by calendar arithmetic (1 month from 28 Feb) by its id, one not yet due, one with
    a stored hold and one of a restricted subject stay."""
    from integritet.retention import sweep

    monkeypatch.setattr(sweep, "BATCH", 1)  # type: ignore[attr-defined]
    rule = RetentionRule(
        id="logs-1m", categories=["access_log"], duration=Duration.parse("1m"),
        anchor=Anchor.collected,
    )  # fmt: skip
    manifest = loggamera.model_copy(update={"retention": [rule], "log_sources": [], "datasets": []})
    vault = opened(retention_settings, manifest, clock)
    created = {}
    for name, at in [("old", datetime(2026, 1, 10, tzinfo=UTC)),
                     ("edge", datetime(2026, 2, 28, tzinfo=UTC)),
                     ("young", datetime(2026, 3, 1, tzinfo=UTC)),
                     ("held", datetime(2026, 1, 10, tzinfo=UTC)),
                     ("locked", datetime(2026, 1, 10, tzinfo=UTC))]:  # fmt: skip
        clock.set(at)
        created[name] = person(vault, f"{name}@example.se", categories=("contact", "access_log"))
    vault.restrict(APP, created["locked"], "accuracy contested")
    with vault.tx() as s:
        row = s.scalars(select(RecordRow).where(
            RecordRow.subject_id == created["held"], RecordRow.category == "access_log"
        )).one()  # fmt: skip
        row.hold_until = datetime(2027, 1, 1, tzinfo=UTC)
    clock.set(datetime(2026, 3, 29, tzinfo=UTC))
    paths: list[str] = []
    for name in ("delete_where", "delete_records", "delete_tid_range"):
        original = getattr(vault, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            paths.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(vault, name, spy)  # type: ignore[attr-defined]

    report = run(manifest, vault, clock)

    if vault.engine.dialect.name == "postgresql":  # one statement per block range
        assert set(paths) == {"delete_tid_range", "delete_records"}
        assert paths.count("delete_records") == 1  # edge by its id
    else:
        assert paths == ["delete_where", "delete_records"]  # old by its range, edge by its id
    logs = by_rule(report, "logs-1m", "access_log")
    assert (logs.due, logs.done, logs.held, logs.restricted) == (2, 2, 1, 1)  # type: ignore[attr-defined]
    left = {name: records(vault, sid, "access_log") for name, sid in created.items()}
    assert left == {"old": 0, "edge": 0, "young": 1, "held": 1, "locked": 1}
    assert all(records(vault, sid, "contact") == 1 for sid in created.values())
    deletes = [e for e in vault.audit.entries() if e.action == "vault.delete_records"]
    assert sorted(int(e.detail["records"]) for e in deletes) == [1, 1]  # type: ignore[arg-type]
    assert vault.audit.verify().ok
    vault.engine.dispose()


def test_refused_erasure_of_an_emptied_subject_rolls_its_batch_back_and_is_audited(
    vault: Vault, loggamera: Manifest, clock: FixedClock, monkeypatch: Any
) -> None:
    """The emptied subjects are erased in the batch's transaction: when the access check
    refuses that erasure, the batch's delete is rolled back too, the refusal audited."""
    import pytest

    from integritet.errors import AccessDenied

    rule = RetentionRule(
        id="old-logs", categories=["access_log"], duration=Duration.parse("30d"),
        anchor=Anchor.collected,
    )  # fmt: skip
    manifest = loggamera.model_copy(update={"retention": [rule], "log_sources": [], "datasets": []})
    lone = person(vault, "lone@example.se", categories=("access_log",))
    clock.advance(timedelta(days=60))
    access = vault.access
    allowed = access.check

    def check(actor: Actor, purpose: str, category: str | None, verb: str, **kw: Any) -> None:
        if verb == "erase" and category is None and kw.get("subject") == lone:
            raise AccessDenied("whole-subject erasure not allowed in this test")
        allowed(actor, purpose, category, verb, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(access, "check", check)
    with pytest.raises(AccessDenied):
        run(manifest, vault, clock)

    assert records(vault, lone, "access_log") == 1 and vault.exists(lone)
    denied = [e for e in vault.audit.entries() if e.action == "vault.erase"]
    assert [(e.outcome, e.subject) for e in denied] == [("denied", lone)]
    assert not [e for e in vault.audit.entries() if e.action == "retention.delete"]
    assert vault.audit.verify().ok
