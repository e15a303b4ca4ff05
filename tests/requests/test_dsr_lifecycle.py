from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integritet.errors import RequestError, VerificationFailed
from integritet.manifest.model import Rights
from integritet.requests import Status
from integritet.requests.lifecycle import deadline_for, extended_deadline


def test_deadline_is_one_calendar_month_and_extension_two_more() -> None:
    rights = Rights()
    received = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert deadline_for(received, rights) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert extended_deadline(datetime(2026, 2, 28, 12, tzinfo=UTC), rights) == datetime(
        2026, 4, 28, 12, tzinfo=UTC
    )
    assert deadline_for(received, Rights(deadline_days=14)) == received + timedelta(days=14)
    assert extended_deadline(received, Rights(extension_days=20)) == received + timedelta(days=20)


def test_overdue_and_extension_with_the_clock(world: Any) -> None:
    r, clock = world.requests, world.clock
    rid = r.new("access", email=world.identities["email"])
    assert r.get(rid).deadline == datetime(2026, 2, 15, 9, tzinfo=UTC)
    clock.advance(timedelta(days=20))
    until = r.extend(rid, "dpo", "Uppgifterna finns i flera system / data in several systems")
    assert until == datetime(2026, 4, 15, 9, tzinfo=UTC)
    told = world.mailbox.messages[-1].get_body(("plain",)).get_content()
    assert "2026-04-15" in told and "several systems" in told
    with pytest.raises(RequestError, match="already extended"):
        r.extend(rid, "dpo", "again")
    clock.advance(timedelta(days=40))
    assert r.list_requests(overdue=True) == []
    clock.advance(timedelta(days=31))
    assert [v.id for v in r.list_requests(overdue=True)] == [rid]


def test_extension_must_come_within_the_first_month(world: Any) -> None:
    r = world.requests
    rid = r.new("access", subject=world.anna)
    world.clock.advance(timedelta(days=32))
    assert r.get(rid).overdue(world.clock.now())
    with pytest.raises(RequestError, match="first month"):
        r.extend(rid, "dpo", "late")


def test_illegal_transitions_are_refused(world: Any) -> None:
    r = world.requests
    rid = r.new("access", subject=world.anna)
    with pytest.raises(RequestError, match="not verified"):
        r.approve(rid, "dpo")
    r.reject(rid, "dpo", "not the account holder")
    with pytest.raises(RequestError, match="rejected"):
        r.verify(rid, "dpo", "too late")
    with pytest.raises(RequestError, match="exactly one"):
        r.new("access", email="a@x.se", phone="+4670")


def test_codes_expire_are_single_use_and_limited(world: Any, code_in: Any) -> None:
    r, clock = world.requests, world.clock
    rid = r.new("access", email=world.identities["email"])
    r.send_code(rid)
    code = code_in(world.mailbox.messages[-1])
    clock.advance(timedelta(minutes=31))
    with pytest.raises(VerificationFailed, match="expired"):
        r.confirm(rid, code)
    r.send_code(rid)
    code = code_in(world.mailbox.messages[-1])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        with pytest.raises(VerificationFailed, match="wrong"):
            r.confirm(rid, wrong)
    with pytest.raises(VerificationFailed, match="too many wrong"):
        r.confirm(rid, code)
    r.send_code(rid)
    with pytest.raises(VerificationFailed, match="wait an hour"):
        r.send_code(rid)
    assert r.confirm(rid, code_in(world.mailbox.messages[-1])) == Status.verified
    with pytest.raises(RequestError):
        r.confirm(rid, code_in(world.mailbox.messages[-1]))


def test_codes_are_limited_per_identity(world: Any) -> None:
    r = world.requests
    for _ in range(2):
        rid = r.new("access", email=world.identities["email"])
        r.send_code(rid)
        r.send_code(rid)
    rid = r.new("objection", email=world.identities["email"])
    r.send_code(rid)
    other = r.new("objection", email=world.identities["email"].upper())
    with pytest.raises(VerificationFailed, match="identity"):
        r.send_code(other)


def test_nothing_personal_in_the_request_tables(world: Any) -> None:
    from sqlalchemy import text

    r = world.requests
    rid = r.new(
        "rectification",
        email=world.identities["email"],
        changes={"contact": {"phone": "+46709999999"}},
    )
    r.verify(rid, "dpo", "passport seen")
    with r.ctx.engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM dsr_request")).all())
        dump += repr(conn.execute(text("SELECT * FROM dsr_history")).all())
    for secret in (world.identities["email"], "46709999999", "passport"):
        assert secret not in dump
