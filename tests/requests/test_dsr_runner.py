"""Crash after every persisted step of an erasure, rerun: it completes exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from integritet.access import Actor
from integritet.errors import KeyDestroyed, NotFound
from integritet.requests import Requests, Status
from integritet.vault import faults

POINTS = [
    "request.planned",
    *(
        f"request.{when}:{step}"
        for step in ("snapshot", "consent", "vault", "recipients", "receipt")
        for when in ("before", "ran", "after")
    ),
    "erase.ledger_appended",
    "erase.rows_deleted",
    "erase.committed",
    "request.waiting",
    "request.told",
]


def _person(world: Any, n: int) -> str:
    system = Actor.system("test")
    email = f"p{n}@example.se"
    sid: str = world.vault.create_subject(system, "account", {"email": email})
    world.vault.put_record(
        system, "account", sid, "contact", {"name": f"P{n}", "email": email}, "person"
    )
    world.vault.put_record(
        system, "accounting", sid, "sales", {"order": f"O{n}", "amount": n}, "person"
    )
    return sid


def _finish(requests: Requests, rid: str) -> Status:
    status = requests.process(rid)
    for task in requests.tasks(rid):
        if task.status == "sent" and task.method != "webhook":
            requests.confirm_recipient(rid, task.recipient_id, "dpo", "confirmed by phone")
    return requests.process(rid) if status != Status.completed else status


@pytest.mark.slow
def test_crash_after_every_step_then_rerun_completes_once(world: Any) -> None:
    for n, point in enumerate(POINTS):
        sid = _person(world, n)
        requests = world.requests
        rid = requests.new("erasure", subject=sid)
        requests.verify(rid, "dpo", "checked")
        requests.approve(rid, "dpo")
        with faults.inject(faults.crash_at(point)), pytest.raises(faults.Crash):
            _finish(requests, rid)
        restarted = Requests(requests.ctx)  # a new process on the same database
        assert _finish(restarted, rid) == Status.completed, point

        with pytest.raises((NotFound, KeyDestroyed)):
            world.vault.identities(requests.ctx.system, "account", sid)
        shown = restarted.show(rid)
        assert [h["to"] for h in shown["history"]].count("completed") == 1, point
        assert all(s["status"] == "done" for s in shown["steps"]), point
        tasks = restarted.tasks(rid)
        assert sorted(t.recipient_id for t in tasks) == [
            "installer",
            "mailchimp",
            "paypal",
            "visma",
        ], point
        receipt = restarted.receipt(rid)
        assert receipt["valid"], point
        assert [k["category"] for k in receipt["body"]["vault"]["kept"]] == ["sales"], point
    # every webhook went out under one idempotency key per request and recipient
    keys = [(q["payload"]["request"], q["recipient"]) for q in world.outbox.queued.values()]
    assert len(keys) == len(set(keys)) == 2 * len(POINTS)


def test_access_crash_before_commit_then_rerun_completes_once(world: Any) -> None:
    """An access request goes from verified to completed in one transaction: a crash after
    the person was told (before the commit) leaves nothing recorded; a rerun in a new
    process completes it once, with one collect step, the vault read audited in that
    transaction, and a full report."""
    requests = world.requests
    rid = requests.new("access", subject=world.anna)
    requests.verify(rid, "dpo", "checked")
    with faults.inject(faults.crash_at("request.told")), pytest.raises(faults.Crash):
        requests.process(rid)
    assert requests.get(rid).status == Status.verified
    assert requests.steps(rid) == []
    restarted = Requests(requests.ctx)  # a new process: nothing kept in memory
    assert restarted.process(rid) == Status.completed
    shown = restarted.show(rid)
    assert [h["to"] for h in shown["history"]] == [
        "received",
        "verified",
        "in_progress",
        "completed",
    ]
    assert [(s["name"], s["status"], s["attempts"]) for s in shown["steps"]] == [
        ("collect", "done", 1)
    ]
    counts = shown["steps"][0]["result"]["counts"]
    assert counts == {"contact": 1, "sales": 1, "access_log": 1}
    report = restarted.report(rid)  # built again through the vault
    assert report.counts() == counts
    started, done = [
        h for h in restarted.history(rid) if h.to_status in ("in_progress", "completed")
    ]
    events = {e.position: e for e in world.vault.audit.entries()}
    read = events[started.audit_position + 1]
    assert read.action == "vault.read" and read.subject == world.anna
    assert read.detail["request"] == rid and read.detail["records"] == 3
    assert done.audit_position == started.audit_position + 2
    assert events[done.audit_position].detail["to"] == "completed"
    assert restarted.process(rid) == Status.completed  # nothing more to do
    assert len(restarted.history(rid)) == 4


def test_access_report_built_once_and_handed_out_once(world: Any) -> None:
    """process() keeps the report it built for report(); a second report() reads again."""
    requests = world.requests
    rid = requests.new("access", subject=world.anna)
    requests.verify(rid, "dpo", "checked")
    before = world.vault.audit.count()
    assert requests.process(rid) == Status.completed
    reads = [e for e in world.vault.audit.entries() if e.position > before]
    assert [e.action for e in reads].count("vault.read") == 1
    after_process = world.vault.audit.count()
    first = requests.report(rid)
    after_first = world.vault.audit.count()
    assert after_first == after_process  # handing out the kept report reads nothing again
    assert first.counts() == {"contact": 1, "sales": 1, "access_log": 1}
    second = requests.report(rid)
    assert second.counts() == first.counts()
    fresh = [e.action for e in world.vault.audit.entries() if e.position > after_first]
    assert fresh.count("vault.read") == 1  # built again, audited again
