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
