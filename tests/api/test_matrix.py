"""The access matrix: every route x (anonymous, wrong tenant, wrong role, right role).

Part one is generated from the app itself: every route under /api/v1 that is not public
answers 401 to an anonymous call. Part two states, per route, who gets 2xx and who 403.
"""

from __future__ import annotations

import re
from typing import Any

from integritet.access import Actor

from .conftest import Env

PUBLIC = {
    "/api/v1/health",
    "/api/v1/policy",
    "/api/v1/policy/version",
    "/api/v1/policy/versions",
    "/api/v1/policy/versions/{version}",
    "/api/v1/auth/login",
    "/api/v1/auth/subject-link",
    "/api/v1/auth/subject-link/{token}",
    "/api/v1/auth/oidc/login",
    "/api/v1/auth/oidc/callback",
    "/api/v1/unsubscribe/{token}",
    "/api/v1/callbacks/{recipient_id}",  # authenticated by the recipient's HMAC signature
}


def test_every_non_public_route_refuses_anonymous_calls(env: Env) -> None:
    checked = 0
    spec = env.client.get("/api/v1/openapi.json").json()
    for template, operations in spec["paths"].items():
        if template in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "x" * 32, template)
        for method in operations:
            response = env.client.request(method.upper(), path, json={})
            assert response.status_code == 401, f"{method} {template}: {response.status_code}"
            assert response.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked >= 25


def _sessions(env: Env) -> dict[str, dict[str, str]]:
    who = {name: env.bearer(env.login(name)["session_token"]) for name in env.totp}
    for name in ("admin_a", "tech_a"):
        who[name] = env.bearer(env.login(name)["session_token"])
    who["admin"] = env.bearer(env.tokens["admin"])
    who["reader"] = env.bearer(env.tokens["reader"])
    who["anonymous"] = {}
    env.client.cookies.clear()  # bearer only from here on
    return who


def _cases(env: Env) -> list[tuple[str, str, Any, dict[str, int]]]:
    """(method, path, body, {caller: expected status})."""
    system = Actor.system("test")
    env.services.telemetry.add_machine(system, "lg-a1", env.customers["a"])
    env.services.telemetry.add_machine(system, "lg-b1", env.customers["b"])
    alice, bob = env.subjects["alice"], env.subjects["bob"]
    rec_a, rec_b = env.records["alice"], env.records["bob"]
    ok, no, anon = 200, 403, 401
    return [
        # personal data of a subject of customer A
        (
            "GET",
            f"/api/v1/subjects/{alice}/identities?purpose=account",
            None,
            {
                "anonymous": anon,
                "admin": ok,
                "reader": ok,
                "dpo": ok,
                "support": ok,
                "admin_a": ok,
                "tech_a": ok,
            },
        ),
        # ... of customer B: tenant A's admin and technician are refused
        (
            "GET",
            f"/api/v1/subjects/{bob}/records?purpose=account",
            None,
            {"anonymous": anon, "admin": ok, "dpo": ok, "admin_a": no, "tech_a": no},
        ),
        (
            "GET",
            f"/api/v1/records/{rec_a}?purpose=account",
            None,
            {"admin_a": ok, "tech_a": ok, "support": ok},
        ),
        (
            "GET",
            f"/api/v1/records/{rec_b}?purpose=account",
            None,
            {"admin_a": no, "tech_a": no, "dpo": ok},
        ),
        # a purpose the role does not serve
        (
            "GET",
            f"/api/v1/subjects/{alice}/records?purpose=accounting",
            None,
            {"support": no, "dpo": ok},
        ),
        # writing: support can, the technician cannot, the read-only token cannot
        (
            "POST",
            f"/api/v1/subjects/{alice}/events",
            {"event": "last_login"},
            {"support": 204, "tech_a": no, "reader": no, "admin": 204},
        ),
        (
            "GET",
            f"/api/v1/subjects/{bob}/consents?purpose=account",
            None,
            {"admin": ok, "support": ok, "admin_a": no},
        ),
        (
            "GET",
            f"/api/v1/may-contact?subject={alice}&purpose=newsletter&channel=email",
            None,
            {"admin": ok, "reader": ok, "support": no, "anonymous": anon},
        ),
        # audit: the DPO reads all; Loggamera does not offer the log to customers (J16 is
        # Loop Backup's promise, tested below); support none
        ("GET", "/api/v1/audit/export", None, {"dpo": ok, "admin_a": no, "support": no}),
        ("GET", "/api/v1/audit/verify", None, {"dpo": ok, "admin_a": no, "admin": ok}),
        (
            "GET",
            "/api/v1/retention/plan",
            None,
            {"dpo": ok, "support": no, "admin_a": no, "reader": no},
        ),
        ("GET", "/api/v1/requests", None, {"dpo": ok, "support": ok, "tech_a": no}),
        ("GET", "/api/v1/register", None, {"dpo": ok, "tech_a": ok, "anonymous": anon}),
        # machine data: only the technician assigned to the customer (C4), for a telemetry
        # purpose; collecting and registering need ingest_telemetry (admin token)
        (
            "GET",
            "/api/v1/telemetry/machines/lg-a1?purpose=account",
            None,
            {
                "anonymous": anon,
                "admin": ok,
                "tech_a": ok,
                "admin_a": no,
                "support": no,
                "dpo": no,
                "reader": no,
            },
        ),
        (
            "GET",
            "/api/v1/telemetry/machines/lg-b1?purpose=account",
            None,
            {"tech_a": no, "admin": ok},
        ),
        (
            "GET",
            "/api/v1/telemetry/machines/lg-a1?purpose=installation",
            None,
            {"tech_a": no},
        ),
        (
            "POST",
            "/api/v1/telemetry/readings",
            [],
            {"admin": ok, "reader": no, "tech_a": no, "dpo": no, "anonymous": anon},
        ),
        (
            "POST",
            "/api/v1/telemetry/sites",
            {"customer": env.customers["a"], "name": "Pannrum"},
            {"admin": 201, "tech_a": no, "support": no, "admin_a": no},
        ),
    ]


def test_matrix_of_tenants_and_roles(env: Env) -> None:
    who = _sessions(env)
    failures = []
    for method, path, body, expected in _cases(env):
        for caller, status in expected.items():
            response = env.client.request(method, path, json=body, headers=who[caller])
            if response.status_code != status:
                failures.append(f"{caller} {method} {path}: {response.status_code} != {status}")
    assert not failures, "\n".join(failures)


def test_customer_admin_export_holds_only_their_customer(j16_env: Env) -> None:
    env = j16_env
    who = _sessions(env)
    other = f"/api/v1/audit/export?customer={env.customers['b']}"
    assert env.client.get(other, headers=who["admin_a"]).status_code == 403
    assert env.client.get("/api/v1/audit/verify", headers=who["admin_a"]).status_code == 403
    rows = env.client.get("/api/v1/audit/export", headers=who["admin_a"]).text.splitlines()
    assert rows and all(f'"customer": "{env.customers["a"]}"' in row for row in rows)
    everything = env.client.get("/api/v1/audit/export", headers=who["dpo"]).text
    assert env.customers["b"] in everything
