"""The batch runner (``process_many``): same outcome as one by one, crash-safe per batch."""

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
    "request.told",
]


def _person(world: Any, tag: str) -> str:
    system = Actor.system("test")
    email = f"{tag}@example.se"
    sid: str = world.vault.create_subject(system, "account", {"email": email})
    world.vault.put_record(
        system, "account", sid, "contact", {"name": tag, "email": email}, "person"
    )
    world.vault.put_record(
        system, "accounting", sid, "sales", {"order": tag, "amount": 1}, "person"
    )
    return sid


def _erasures(world: Any, tag: str, n: int) -> tuple[list[str], list[str]]:
    sids = [_person(world, f"{tag}-{k}") for k in range(n)]
    rids = []
    for sid in sids:
        rid = world.requests.new("erasure", subject=sid)
        world.requests.verify(rid, "dpo", "checked")
        world.requests.approve(rid, "dpo")
        rids.append(rid)
    return sids, rids


def _finish_many(requests: Requests, rids: list[str]) -> dict[str, Status]:
    requests.process_many(rids, batch=10)
    for rid in rids:
        for task in requests.tasks(rid):
            if task.status == "sent" and task.method != "webhook":
                requests.confirm_recipient(rid, task.recipient_id, "dpo", "confirmed by phone")
    return requests.process_many(rids, batch=10)


def _check_once(world: Any, requests: Requests, sids: list[str], rids: list[str]) -> None:
    for sid, rid in zip(sids, rids, strict=True):
        with pytest.raises((NotFound, KeyDestroyed)):
            world.vault.identities(requests.ctx.system, "account", sid)
        shown = requests.show(rid)
        assert [h["to"] for h in shown["history"]].count("completed") == 1
        assert all(s["status"] == "done" for s in shown["steps"])
        assert sorted(t.recipient_id for t in requests.tasks(rid)) == [
            "installer",
            "mailchimp",
            "paypal",
            "visma",
        ]
        receipt = requests.receipt(rid)
        assert receipt["valid"]
        assert receipt["body"]["request"] == rid
        assert [k["category"] for k in receipt["body"]["vault"]["kept"]] == ["sales"]


def test_batch_completes_like_one_by_one(world: Any) -> None:
    sids, rids = _erasures(world, "b", 3)
    done = _finish_many(world.requests, rids)
    assert set(done.values()) == {Status.completed}
    _check_once(world, world.requests, sids, rids)
    keys = [(q["payload"]["request"], q["recipient"]) for q in world.outbox.queued.values()]
    assert len(keys) == len(set(keys)) == 2 * len(rids)
    assert all(q["count"] == 1 for q in world.outbox.queued.values())


@pytest.mark.slow
def test_crash_in_a_batch_then_rerun_completes_once(world: Any) -> None:
    for n, point in enumerate(POINTS):
        sids, rids = _erasures(world, f"c{n}", 2)
        with faults.inject(faults.crash_at(point)), pytest.raises(faults.Crash):
            _finish_many(world.requests, rids)
        restarted = Requests(world.requests.ctx)  # a new process on the same database
        done = _finish_many(restarted, rids)
        assert set(done.values()) == {Status.completed}, point
        _check_once(world, restarted, sids, rids)
    keys = [(q["payload"]["request"], q["recipient"]) for q in world.outbox.queued.values()]
    assert len(keys) == len(set(keys)) == 2 * 2 * len(POINTS)
