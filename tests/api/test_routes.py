"""Route behaviour: consents with sealed evidence, may-contact, one-click unsubscribe,
requests, callbacks, PII check, the Art. 30 register, headers, and no personal data in logs."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.connectors.signing import SIGNATURE_HEADER, sign
from integritet.consent import ConsentEvent

from .conftest import Env


def test_consent_evidence_and_may_contact(sqlite_env: Env) -> None:
    env, sid = sqlite_env, sqlite_env.subjects["alice"]
    admin = env.bearer(env.tokens["admin"])
    ask = f"/api/v1/may-contact?subject={sid}&purpose=newsletter&channel=email"
    before = env.client.get(ask, headers=admin).json()
    assert before == {"allowed": False, "reason": "no consent given"}
    given = env.client.put(
        f"/api/v1/subjects/{sid}/consents",
        json={"purpose": "newsletter", "channel": "email", "state": "given", "text": "Ja tack"},
        headers={**admin, "User-Agent": "Firefox/125"},
    )
    assert given.status_code == 200 and given.json()["state"] == "given"
    assert env.client.get(ask, headers=admin).json()["allowed"] is True
    with Session(env.services.vault.engine) as s:
        event = s.scalars(select(ConsentEvent)).one()
    assert event.source == "api" and event.sealed_evidence is not None
    assert b"Firefox" not in event.sealed_evidence and b"testclient" not in event.sealed_evidence
    # the one-click link in the newsletter withdraws it, without signing in (RFC 8058)
    token = env.services.links.token(sid, "newsletter", "email")
    page = env.client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "Nyhetsbrev" in page.text
    assert env.client.get(ask, headers=admin).json()["allowed"] is True  # GET changed nothing
    done = env.client.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200 and done.json() == {"unsubscribed": "newsletter"}
    assert env.client.get(ask, headers=admin).json()["allowed"] is False
    assert env.client.post(f"/unsubscribe/{token[:-2]}xx").status_code == 404


def test_request_lifecycle_over_the_api(sqlite_env: Env) -> None:
    env = sqlite_env
    dpo = env.bearer(env.login("dpo")["session_token"])
    created = env.client.post(
        "/api/v1/requests", json={"kind": "access", "email": "alice@example.se"}, headers=dpo
    )
    assert created.status_code == 201
    rid = created.json()["id"]
    verified = env.client.post(
        f"/api/v1/requests/{rid}/verify", json={"note": "call-back"}, headers=dpo
    )
    assert verified.json()["status"] == "verified"
    processed = env.client.post(f"/api/v1/requests/{rid}/process", headers=dpo)
    assert processed.json()["status"] == "completed"
    report = env.client.get(f"/api/v1/requests/{rid}/report", headers=dpo)
    assert report.status_code == 200 and "alice@example.se" in report.text
    listed = env.client.get("/api/v1/requests", headers=dpo).json()
    assert [r["id"] for r in listed] == [rid]
    actions = [e.action for e in env.services.audit.entries(subject=env.subjects["alice"])]
    assert "api.request_report" in actions


def test_callback_needs_the_recipients_signature(
    sqlite_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = sqlite_env
    monkeypatch.setenv("VISMA_WEBHOOK_SECRET", "s3cret")
    outbox = env.services.requests.ctx.outbox
    assert outbox is not None
    ref = outbox.enqueue("visma", "http://127.0.0.1:9/visma", "s3cret", {"x": 1}, "key-1")
    body = json.dumps({"delivery": "key-1"}).encode()
    forged = env.client.post(
        "/api/v1/callbacks/visma", content=body, headers={SIGNATURE_HEADER: sign("wrong", body)}
    )
    assert forged.status_code == 403
    assert not outbox.is_confirmed(ref)
    good = env.client.post(
        "/api/v1/callbacks/visma", content=body, headers={SIGNATURE_HEADER: sign("s3cret", body)}
    )
    assert good.status_code == 200 and good.json()["status"] == "confirmed"
    assert outbox.is_confirmed(ref)


def test_pii_check_register_and_headers(sqlite_env: Env) -> None:
    env = sqlite_env
    admin = env.bearer(env.tokens["reader"])
    text = "Ring Anna på 070-123 45 67 eller anna@example.se"
    found = env.client.post("/api/v1/pii/check", json={"text": text}, headers=admin)
    body = found.json()
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER"} <= {f["type"] for f in body["findings"]}
    assert body["warning"] and "anna@example.se" not in found.text
    register = env.client.get("/api/v1/register?lang=sv", headers=admin)
    activities = {a["purpose"]: a for a in register.json()["activities"]}
    assert activities["accounting"]["legal_basis"] == "legal_obligation"
    assert any(t["recipient"] == "mailchimp" for t in activities["messages"]["transfers"])
    assert activities["accounting"]["legal_holds"][0]["law"] == "bokforingslagen"
    assert register.headers["cache-control"] == "no-store"
    assert "cache-control" not in env.client.get("/api/v1/policy").headers
    secure = env.client.get("https://testserver/api/v1/health")
    assert secure.headers["strict-transport-security"].startswith("max-age=")


def test_no_personal_data_in_logs(sqlite_env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env = sqlite_env
    admin = {**env.bearer(env.tokens["admin"]), "X-Purpose": "account"}
    caplog.set_level(logging.DEBUG)
    env.client.post(
        "/api/v1/subjects",
        json={"identities": {"email": "carl.secret@example.se"}, "customer": env.customers["a"]},
        headers=admin,
    )
    env.client.post(
        "/api/v1/subjects/search",
        json={"kind": "email", "value": "carl.secret@example.se"},
        headers=admin,
    )
    env.client.post("/api/v1/auth/subject-link", json={"email": "carl.secret@example.se"})
    env.client.get(
        "/api/v1/may-contact?subject=nobody%40example.se&purpose=x&channel=email", headers=admin
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "carl.secret" not in logged and "nobody@example.se" not in logged
    assert "carl.secret" not in "".join(e.detail.__repr__() for e in env.services.audit.entries())
