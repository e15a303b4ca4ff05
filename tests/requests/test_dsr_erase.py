from __future__ import annotations

from typing import Any

import pytest

from integritet.errors import KeyDestroyed, NotFound, RequestError
from integritet.requests import Status
from integritet.requests.keys import verify_signature


def test_erasure_by_email_codes_end_to_end(world: Any, code_in: Any) -> None:
    r = world.requests
    rid = r.new("erasure", email=world.identities["email"])
    assert r.get(rid).subject_id == world.anna
    assert r.send_code(rid) == "verify"
    assert r.confirm(rid, code_in(world.mailbox.messages[-1])) == Status.verified
    with pytest.raises(RequestError, match="not confirmed"):
        r.process(rid)
    assert r.send_code(rid) == "confirm"
    assert r.confirm(rid, code_in(world.mailbox.messages[-1])) == Status.confirmed

    assert r.process(rid) == Status.waiting_for_recipients
    with pytest.raises((NotFound, KeyDestroyed)):
        world.vault.identities(r.ctx.system, "account", world.anna)
    tasks = {t.recipient_id: t for t in r.tasks(rid)}
    assert set(tasks) == {"installer", "visma", "paypal", "mailchimp"}
    assert tasks["installer"].method == "manual" and tasks["paypal"].method == "email"
    processor_mail = [m for m in world.mailbox.messages if m["To"] == "privacy@paypal.example"]
    assert len(processor_mail) == 1

    # webhooks were delivered; the manual and email recipients still need staff.
    assert r.process(rid) == Status.waiting_for_recipients
    r.confirm_recipient(rid, "installer", "dpo", "installer confirmed by phone")
    r.confirm_recipient(rid, "paypal", "dpo", "PayPal replied")
    assert r.process(rid) == Status.completed

    receipt = r.receipt(rid)
    body = receipt["body"]
    assert receipt["valid"] is True
    assert set(body["vault"]["erased_categories"]) >= {"contact", "access_log"}
    assert [k["category"] for k in body["vault"]["kept"]] == ["sales"]
    assert body["vault"]["kept"][0]["hold"] == "bokforing"
    assert body["audit_position"] > 0
    assert verify_signature(receipt["public_key"], b"tampered", receipt["signature"]) is False
    last = world.mailbox.messages[-1]
    assert last["To"] == world.identities["email"] and rid in str(last["Subject"])


def test_staff_verification_and_approval(world: Any, code_in: Any) -> None:
    r = world.requests
    rid = r.new("erasure", subject=world.anna)
    with pytest.raises(RequestError, match="note"):
        r.verify(rid, "anna", " ")
    r.verify(rid, "support1", "called the customer back on the number on file")
    r.approve(rid, "support1")
    assert r.get(rid).status == Status.confirmed
    history = [h.to_status for h in r.history(rid)]
    assert history == ["received", "verified", "confirmed"]
    assert all(h.audit_position for h in r.history(rid))


def test_rejection_with_erasure_exception(world: Any, code_in: Any) -> None:
    r = world.requests
    rid = r.new("erasure", email=world.identities["email"])
    r.verify(rid, "dpo", "id checked")
    with pytest.raises(RequestError, match="active_agreement"):
        r.reject(rid, "dpo", "active agreement", exception="active_agreement")
    r.reject(
        rid,
        "dpo",
        "Avtalet löper till 2027 / agreement runs until 2027",
        exception="legal_obligation",
    )
    assert r.get(rid).status == Status.rejected
    notice = world.mailbox.messages[-1].get_body(("plain",))
    assert notice is not None and "IMY" in notice.get_content()
    assert (
        world.vault.identities(r.ctx.system, "account", world.anna)["email"]
        == world.identities["email"]
    )
