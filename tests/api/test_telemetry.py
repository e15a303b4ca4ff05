"""Telemetry over HTTP: ingestion through the collection guard, registration, and readings
only for assigned staff and telemetry purposes (C2, C4, L2), on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pyotp

from .conftest import PASSWORD, Env

CARD = "4111 1111 1111 1111"  # a Luhn-valid test card number


def _setup(env: Env) -> dict[str, str]:
    """Machines of customers A and B, two more technicians, bearer headers per caller."""
    admin = env.bearer(env.tokens["admin"])
    site = env.client.post(
        "/api/v1/telemetry/sites", json={"customer": env.customers["a"], "name": "Pannrum"}
    )
    assert site.status_code == 401  # anonymous
    site = env.client.post(
        "/api/v1/telemetry/sites",
        json={"customer": env.customers["a"], "name": "Pannrum"},
        headers=admin,
    )
    assert site.status_code == 201, site.text
    for machine, customer, site_id in (
        ("lg-a1", "a", site.json()["id"]),
        ("lg-b1", "b", None),
        ("lg-b2", "b", None),
    ):
        made = env.client.post(
            "/api/v1/telemetry/machines",
            json={"id": machine, "customer": env.customers[customer], "site": site_id},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        assert made.json()["customer"] == env.customers[customer]
    identity, login = env.services.identity, env.services.login
    identity.add_user("tech_b", "technician")
    identity.assign("tech_b", "customer", env.customers["b"])
    identity.add_user("tech_m", "technician")  # one machine of B, not the customer
    identity.assign("tech_m", "machine", "lg-b2")
    identity.add_user("tech_x", "technician")  # assigned to nothing
    for user in ("tech_b", "tech_m", "tech_x"):
        login.set_password(user, PASSWORD)
        env.totp[user] = pyotp.parse_uri(login.enrol_totp(user)).secret
    return {"admin": env.tokens["admin"]}


def _session(env: Env, user: str) -> dict[str, str]:
    headers = env.bearer(env.login(user)["session_token"])
    env.client.cookies.clear()
    return headers


def _ingest(env: Env) -> dict[str, object]:
    ingest = env.bearer(env.services.identity.create_token("gateway", ["ingest_telemetry"]))
    records = [
        {"machine": "lg-a1", "at": "2026-01-15T08:00:00Z", "temperature": 21.5},
        {"machine": "lg-b1", "at": "2026-01-15T08:00:00Z", "temperature": 19.0},
        {"machine": "lg-b2", "at": "2026-01-15T08:00:00Z", "energy_kwh": 1200},
    ]
    response = env.client.post("/api/v1/telemetry/readings", json=records, headers=ingest)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_readings_only_for_assigned_staff_and_telemetry_purposes(env: Env) -> None:
    _setup(env)
    stored = _ingest(env)
    assert stored["stored"] == 3 and stored["readings"] == 3 and stored["outcomes"] == []
    url = "/api/v1/telemetry/machines/{}?purpose=account"
    tech_a, tech_b = _session(env, "tech_a"), _session(env, "tech_b")
    tech_m, tech_x = _session(env, "tech_m"), _session(env, "tech_x")
    # the technician assigned to customer A sees A's machine
    seen = env.client.get(url.format("lg-a1"), headers=tech_a)
    assert seen.status_code == 200, seen.text
    assert [(r["name"], r["value"]) for r in seen.json()["readings"]] == [("temperature", 21.5)]
    # ...a technician of another customer, or of nothing, is refused (C4)
    assert env.client.get(url.format("lg-a1"), headers=tech_b).status_code == 403
    assert env.client.get(url.format("lg-a1"), headers=tech_x).status_code == 403
    assert env.client.get(url.format("lg-b1"), headers=tech_a).status_code == 403
    # a machine-level assignment reaches that machine only
    assert env.client.get(url.format("lg-b2"), headers=tech_m).status_code == 200
    assert env.client.get(url.format("lg-b1"), headers=tech_m).status_code == 403
    assert env.client.get(url.format("lg-b1"), headers=tech_b).status_code == 200
    # purpose-bound: a declared purpose that is not a telemetry purpose, or none at all
    other = env.client.get("/api/v1/telemetry/machines/lg-a1?purpose=installation", headers=tech_a)
    assert other.status_code == 403 and "telemetry purpose" in other.json()["detail"]
    assert env.client.get("/api/v1/telemetry/machines/lg-a1", headers=tech_a).status_code == 403
    # roles without read_telemetry, and tokens without the scope
    assert env.client.get(url.format("lg-a1"), headers=_session(env, "support")).status_code == 403
    reader = env.bearer(env.tokens["reader"])
    assert env.client.get(url.format("lg-a1"), headers=reader).status_code == 403
    assert env.client.get(url.format("nope"), headers=tech_a).status_code == 404
    # every read is evidence, allowed or refused
    events = list(env.services.audit.entries())
    reads = [e for e in events if e.action == "telemetry.read"]
    assert {(e.actor, e.outcome) for e in reads} >= {
        ("staff:tech_a", "allowed"),
        ("staff:tech_b", "denied"),
        ("staff:tech_x", "denied"),
    }


def test_card_numbers_are_refused_or_stripped_and_reported_without_values(env: Env) -> None:
    _setup(env)
    gateway = env.bearer(env.services.identity.create_token("gw", ["ingest_telemetry"]))
    lines = "\n".join(
        json.dumps(r)
        for r in (
            {"machine": "lg-a1", "at": "2026-01-15T09:00:00Z", "temperature": 20.5},
            {"machine": "lg-a1", "at": "2026-01-15T09:05:00Z", "site_note": f"kort {CARD}"},
            {"machine": "lg-a1", "at": "2026-01-15T09:10:00Z", "temperature": 4111111111111111},
            {"machine": "lg-a1", "at": "2026-01-15T09:15:00Z", "secret": "x"},
            {"machine": "unknown", "at": "2026-01-15T09:20:00Z", "temperature": 1.0},
        )
    )
    response = env.client.post(
        "/api/v1/telemetry/readings",
        content=(lines + "\nnot json\n").encode(),
        headers={**gateway, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert CARD not in response.text and "4111" not in response.text
    assert body["records"] == 6 and body["stored"] == 1
    by_index = {o["index"]: o for o in body["outcomes"]}
    assert by_index[2]["status"] in ("partial", "refused")
    assert by_index[2]["decisions"][0]["types"] == ["CREDIT_CARD"]
    assert by_index[3]["decisions"][0]["field"] == "temperature"
    assert "CREDIT_CARD" in by_index[3]["decisions"][0]["types"]
    assert by_index[4]["decisions"][0]["reason"] == "not declared in telemetry.fields"
    assert by_index[5]["status"] == "error" and "unknown machine" in by_index[5]["error"]
    assert by_index[6]["status"] == "error" and by_index[6]["error"].startswith("not valid JSON")
    assert body["types"]["CREDIT_CARD"] == 2
    # nothing of the card reached the database, and the guard's decisions are audited
    tech_a = _session(env, "tech_a")
    seen = env.client.get("/api/v1/telemetry/machines/lg-a1?purpose=account", headers=tech_a)
    assert "4111" not in seen.text
    guard = [e for e in env.services.audit.entries() if e.action == "telemetry.guard"]
    assert guard and all("4111" not in json.dumps(e.detail) for e in guard)


def test_ingestion_needs_the_scope_and_a_usable_body(env: Env) -> None:
    _setup(env)
    record = [{"machine": "lg-a1", "at": "2026-01-15T09:00:00Z", "temperature": 20.0}]
    reader = env.bearer(env.tokens["reader"])
    assert env.client.post("/api/v1/telemetry/readings", json=record).status_code == 401
    assert (
        env.client.post("/api/v1/telemetry/readings", json=record, headers=reader).status_code
        == 403
    )
    tech = _session(env, "tech_a")  # can read telemetry, not collect it
    assert (
        env.client.post("/api/v1/telemetry/readings", json=record, headers=tech).status_code == 403
    )
    assert (
        env.client.post(
            "/api/v1/telemetry/machines", json={"id": "lg-z", "customer": "x"}, headers=tech
        ).status_code
        == 403
    )
    admin = env.bearer(env.tokens["admin"])
    broken = env.client.post(
        "/api/v1/telemetry/readings",
        content=b'[{"machine": ',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]
    odd = env.client.post("/api/v1/telemetry/readings", json=["anna@example.se", 3], headers=admin)
    assert odd.status_code == 200 and "anna" not in odd.text
    assert [o["error"] for o in odd.json()["outcomes"]] == ["not a JSON object"] * 2
