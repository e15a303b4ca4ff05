"""The console through TestClient: MFA sign-in, the queue, request decisions, refusals."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp

from web.conftest import PASSWORD, Web


def test_sign_in_needs_the_totp_code_when_the_role_requires_mfa(sqlite_web: Web) -> None:
    web = sqlite_web
    web.enrol("dpo")
    token = web.form_token("/console/sign-in")
    refused = web.client.post(
        "/console/sign-in",
        data={"username": "dpo", "password": PASSWORD, "code": "", "csrf_token": token},
    )
    assert refused.status_code == 401
    assert "Inloggningen misslyckades" in refused.text
    assert web.client.get("/console", follow_redirects=False).status_code == 303
    web.console_sign_in("dpo")
    queue = web.client.get("/console?lang=en")
    assert queue.status_code == 200 and "Data-subject requests" in queue.text
    assert pyotp.TOTP(web.totp["dpo"]).now()  # a real secret was enrolled


def test_queue_shows_deadlines_and_marks_overdue(web: Web) -> None:
    late = web.services.requests.new("access", subject=web.subjects["alice"])
    web.clock.advance(timedelta(days=40))
    fresh = web.services.requests.new("erasure", subject=web.subjects["bob"])
    web.console_sign_in("dpo")
    page = web.client.get("/console?lang=en")
    assert late[:8] in page.text and fresh[:8] in page.text
    assert "days late" in page.text
    overdue = web.client.get("/console?show=overdue")
    assert late[:8] in overdue.text and fresh[:8] not in overdue.text


def test_dpo_verifies_approves_and_processes_an_erasure(web: Web) -> None:
    rid = web.services.requests.new("erasure", subject=web.subjects["alice"])
    web.console_sign_in("dpo")
    detail = web.client.get(f"/console/requests/{rid}")
    assert "Verifiera identiteten" in detail.text
    step = web.client.post(
        f"/console/requests/{rid}/verify",
        data={"csrf_token": web.csrf(), "note": "Ringde upp kunden på numret i avtalet."},
    )
    assert "Identiteten är markerad som verifierad" in step.text
    web.client.post(f"/console/requests/{rid}/approve", data={"csrf_token": web.csrf()})
    assert web.services.requests.get(rid).status.value == "confirmed"
    web.client.post(f"/console/requests/{rid}/process", data={"csrf_token": web.csrf()})
    assert web.services.requests.get(rid).status.value == "waiting_for_recipients"
    page = web.client.get(f"/console/requests/{rid}?lang=en")
    for task in web.services.requests.tasks(rid):
        if task.status in ("pending", "sent"):
            web.client.post(
                f"/console/requests/{rid}/recipient",
                data={"csrf_token": web.csrf(), "recipient": task.recipient_id, "note": "ok"},
            )
    assert "Recipients (Article 19)" in page.text
    web.client.post(f"/console/requests/{rid}/process", data={"csrf_token": web.csrf()})
    assert web.services.requests.get(rid).status.value == "completed"
    done = web.client.get(f"/console/requests/{rid}?lang=en")
    assert "Erasure receipt" in done.text and "Signature valid" in done.text


def test_free_text_with_personal_data_is_held_back_until_acknowledged(sqlite_web: Web) -> None:
    web = sqlite_web
    rid = web.services.requests.new("access", subject=web.subjects["alice"])
    web.console_sign_in("dpo")
    note = "Ringde 070-123 45 67, anna.svensson@example.se bekräftade"
    held = web.client.post(
        f"/console/requests/{rid}/verify", data={"csrf_token": web.csrf(), "note": note}
    )
    assert held.status_code == 422
    assert "Skriv inte personuppgifter" in held.text and "e-postadress" in held.text
    assert 'aria-live="polite"' in held.text
    assert web.services.requests.get(rid).status.value == "received"
    sent = web.client.post(
        f"/console/requests/{rid}/verify",
        data={"csrf_token": web.csrf(), "note": note, "note_ack": "yes"},
    )
    assert sent.status_code == 200
    assert web.services.requests.get(rid).status.value == "verified"


def test_console_forms_refuse_a_missing_csrf_token(sqlite_web: Web) -> None:
    web = sqlite_web
    rid = web.services.requests.new("access", subject=web.subjects["alice"])
    web.console_sign_in("dpo")
    response = web.client.post(f"/console/requests/{rid}/verify", data={"note": "x"})
    assert response.status_code == 403
    assert web.services.requests.get(rid).status.value == "received"


def test_customer_admin_sees_only_their_own_customers_requests(web: Web) -> None:
    own = web.services.requests.new("access", subject=web.subjects["alice"])
    other = web.services.requests.new("access", subject=web.subjects["bob"])
    web.console_sign_in("admin_a")
    queue = web.client.get("/console")
    assert own[:8] in queue.text and other[:8] not in queue.text
    refused = web.client.get(f"/console/requests/{other}")
    assert refused.status_code == 403
    # pages that need a role it lacks are refused too
    assert web.client.get("/console/retention").status_code == 403


def test_a_data_subject_session_cannot_open_the_console(sqlite_web: Web) -> None:
    web = sqlite_web
    web.portal_sign_in("alice")
    assert web.client.get("/console").status_code == 403


def test_sign_out_ends_the_session(sqlite_web: Web) -> None:
    web = sqlite_web
    web.console_sign_in("support")
    cookie = web.client.cookies.get("integritet_session")
    assert cookie is not None
    web.client.post("/console/sign-out", data={"csrf_token": web.csrf()})
    assert web.services.identity.session(cookie) is None
    assert re.search("sign-in", web.client.get("/console").url.path)


def test_staff_lift_a_restriction_from_the_request_page(web: Web) -> None:
    bob = web.subjects["bob"]
    engine = web.services.requests
    rid = engine.new("restriction", subject=bob)
    engine.verify_by_link(rid, bob)
    assert engine.process(rid).value in ("completed", "waiting_for_recipients")
    assert web.services.vault.is_restricted(bob)
    web.console_sign_in("dpo")
    page = web.client.get(f"/console/requests/{rid}?lang=en")
    assert "Processing is restricted" in page.text and "Lift the restriction" in page.text
    lifted = web.client.post(f"/console/requests/{rid}/lift", data={"csrf_token": web.csrf()})
    assert lifted.status_code == 200 and "The restriction is lifted." in lifted.text
    assert not web.services.vault.is_restricted(bob)
    assert "Lift the restriction" not in lifted.text
    (event,) = [e for e in web.services.audit.entries() if e.action == "request.restriction_lifted"]
    assert event.actor == "staff:dpo" and event.detail["request"] == rid
