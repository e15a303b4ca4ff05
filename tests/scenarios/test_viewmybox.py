"""VIEWMYBOX (monitoring subscription portal by Addimotion): promises V1-V8.

Seed: shared/seeds/001_23703ac5ce87f80b.txt; manifest: examples/viewmybox/policy.yaml.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.test_oidc import Provider
from integritet.access import Actor
from integritet.api.app import create_app
from integritet.errors import AccessDenied, IdentityError, ResidencyError
from integritet.identity.tables import UserRow
from integritet.manifest import load_manifest
from integritet.residency import Residency
from integritet.services import Services
from integritet.vault import open_vault
from scenarios.helpers import SYSTEM, Service

Make = Callable[[str, str | None], Service]
EMAIL = "vera.viewer@kund.example"
CONTACT = {"name": "Vera Viewer", "address": "Kundvägen 3, Göteborg", "email": EMAIL,
           "phone": "+46317654321"}  # fmt: skip


def _subscriber(svc: Service, customer: str | None = None) -> str:
    return svc.person(EMAIL, {"contact": CONTACT}, purposes={"contact": "subscription"},
                      source="customer", customer=customer)  # fmt: skip


def test_V1_subscription_records_name_address_email_phone(
    make_service: Make, migrated_database_url: str, tmp_path: Path
) -> None:
    svc = make_service("viewmybox", migrated_database_url)
    people = tmp_path / "subscribers.csv"
    people.write_text(
        "email,contact.name,contact.address,contact.email,contact.phone\n"
        f'{EMAIL},Vera Viewer,"Kundvägen 3, Göteborg",{EMAIL},+46317654321\n',
        encoding="utf-8",
    )
    imported = svc.cli("subjects", "import", str(people))
    assert imported.exit_code == 0, imported.output
    shown = svc.cli("subjects", "show", "--email", EMAIL, "--format", "json")
    assert shown.exit_code == 0, shown.output
    for value in ("Vera Viewer", "Kundvägen 3, Göteborg", "+46317654321"):
        assert value in shown.stdout
    assert b"Vera Viewer" not in svc.raw()


def test_V3_registration_records_ip_browser_and_time(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("viewmybox", migrated_database_url)
    sid = _subscriber(svc)
    registration = {"ip": "203.0.113.99", "browser": "Edge 120 / Windows 11",
                    "registered_at": svc.clock.now().isoformat()}  # fmt: skip
    svc.vault.put_record(SYSTEM, "registration_support", sid, "registration", registration,
                         "website")  # fmt: skip
    support = Actor.staff("stina", "support")
    stored = svc.vault.records(support, "registration_support", sid, "registration")[0]
    assert stored.fields == registration and stored.created_at == svc.clock.now()
    with pytest.raises(AccessDenied):
        svc.vault.records(Actor.staff("c", "customer_admin"), "subscription", sid, "registration")
    assert b"203.0.113.99" not in svc.raw()


def test_V4_the_customer_updates_contact_details_under_settings(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("viewmybox", migrated_database_url)
    sid = _subscriber(svc)
    other = svc.person("other@kund.example", {"contact": {"name": "Other"}},
                       purposes={"contact": "subscription"}, source="customer")  # fmt: skip
    record = svc.vault.records(Actor.subject(sid), "subscription", sid, "contact")[0]
    new = {"email": "vera@ny.example", "phone": "+46311112222", "address": "Nya gatan 1"}
    svc.vault.update_record(Actor.subject(sid), "subscription", record.id, new)
    fields = svc.vault.records(Actor.subject(sid), "subscription", sid, "contact")[0].fields
    assert fields == {**CONTACT, **new}
    assert svc.vault.find_subject(SYSTEM, "subscription", "email", "vera@ny.example") == sid
    assert svc.vault.find_subject(SYSTEM, "subscription", "email", EMAIL) is None
    with pytest.raises(AccessDenied):
        svc.vault.update_record(Actor.subject(other), "subscription", record.id, {"name": "X"})
    assert "under Settings in VIEWMYBOX" in svc.cli("render", "--lang", "en").stdout


def test_V5_data_follows_the_policy_version_in_force_when_given(
    make_service: Make, migrated_database_url: str, tmp_path: Path
) -> None:
    svc = make_service("viewmybox", migrated_database_url)
    sid = _subscriber(svc)

    def version_4(data: dict[str, Any]) -> None:
        data["policy"]["version"] = "4"

    newer = load_manifest(svc.with_changes(tmp_path, version_4))
    vault = open_vault(svc.settings, newer, svc.clock, notify=lambda _m: None)
    try:
        content = {"dashboards": "Pumpstation norr", "notes": "Larmgräns 80%"}
        vault.put_record(SYSTEM, "subscription", sid, "content", content, "customer")
        versions = {
            r.category: r.policy_version for r in vault.records(SYSTEM, "subscription", sid)
        }
    finally:
        vault.close()
    assert versions == {"contact": "3", "content": "4"}


def test_V6_the_customer_gets_an_extract_of_its_content(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("viewmybox", migrated_database_url)
    customer = svc.vault.create_customer(SYSTEM, "Kund AB")
    sid = _subscriber(svc, customer)
    content = {"dashboards": "Pumpstation norr", "notes": "Larmgräns 80%"}
    svc.vault.put_record(SYSTEM, "subscription", sid, "content", content, "customer")
    admin = Actor.staff("kalle", "customer_admin", customer=customer)
    assert svc.vault.records(admin, "subscription", sid, "content")[0].fields == content
    stranger = Actor.staff("eve", "customer_admin", customer="another-customer")
    with pytest.raises(AccessDenied, match="own customer"):
        svc.vault.records(stranger, "subscription", sid, "content")
    requests = svc.requests()
    rid = requests.new("access", email=EMAIL)
    requests.verify(rid, "stina", "signed in through the customer's identity provider")
    requests.process(rid)
    extract = requests.report(rid).as_dict()
    content_out = next(c for c in extract["categories"] if c["id"] == "content")
    assert content_out["records"][0]["fields"] == content


def test_V8_runs_in_a_named_region_and_stays_there(
    make_service: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = make_service("viewmybox", None)
    en = svc.cli("render", "--lang", "en").stdout.split("## Where", 1)[1].split("\n## ")[0]
    assert "Microsoft Azure, Sweden Central, Sweden" in en

    def move_to_us(data: dict[str, Any]) -> None:
        data["storage"]["locations"][0].update({"country": "US", "region": "East US"})

    moved = svc.cli("check", str(svc.with_changes(tmp_path, move_to_us)))
    assert moved.exit_code == 1 and "storage-outside-eea" in moved.output

    def unpin(data: dict[str, Any]) -> None:
        data["storage"]["pinned"] = False

    diff = svc.cli("diff", str(svc.policy), str(svc.with_changes(tmp_path, unpin)))
    assert "MATERIAL" in diff.output and "pinned" in diff.output
    # at run time: a node that says it runs elsewhere may not write personal data
    sid = _subscriber(svc)
    content = {"dashboards": "Pumpstation norr"}
    monkeypatch.setenv("INTEGRITET_LOCATION", "azure-us-east")
    with pytest.raises(ResidencyError, match="'azure-us-east' is not declared"):
        Residency(svc.vault, svc.manifest, svc.clock).put_record(
            SYSTEM, "subscription", sid, "content", content, "customer"
        )
    assert svc.vault.records(SYSTEM, "subscription", sid, "content") == []
    monkeypatch.setenv("INTEGRITET_LOCATION", "azure-sweden")
    Residency(svc.vault, svc.manifest, svc.clock).put_record(
        SYSTEM, "subscription", sid, "content", content, "customer"
    )
    assert [r.fields for r in svc.vault.records(SYSTEM, "subscription", sid, "content")] == [
        content
    ]


# ---------------------------------------------------------------- V2, V7: the REST API


class EntraLike(Provider):
    """The local OpenID Connect provider of tests/api, issuing tokens for VIEWMYBOX's client."""

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": "viewmybox-portal",
            "sub": f"sub-{self.user}",
            "preferred_username": self.user,
            "nonce": nonce,
            "iat": now,
            "exp": now + 300,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})


@dataclass
class Portal:
    svc: Service
    services: Services
    client: TestClient
    provider: EntraLike
    customer: str

    def sign_in(self) -> httpx.Response:
        """Through the identity provider: login redirect, provider, callback."""
        start = self.client.get("/api/v1/auth/oidc/login", follow_redirects=False)
        assert start.status_code == 302
        at_provider = httpx.get(start.headers["location"], follow_redirects=False)
        back = urlparse(at_provider.headers["location"])
        return self.client.get(f"{back.path}?{back.query}")

    def me(self, token: str) -> int:
        response = self.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        return response.status_code


@pytest.fixture
def entra() -> Iterator[EntraLike]:
    provider = EntraLike()
    provider.user = "vera"
    threading.Thread(target=provider.server.serve_forever, daemon=True).start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        provider.server.server_close()


@pytest.fixture
def portal(make_service: Make, migrated_database_url: str, entra: EntraLike) -> Iterator[Portal]:
    """The VIEWMYBOX API, its identity provider pointed at a local one (same client id)."""
    svc = make_service("viewmybox", migrated_database_url)
    idp = svc.manifest.security.identity_provider
    assert idp is not None and idp.passwords is False and idp.client_id == "viewmybox-portal"
    security = svc.manifest.security.model_copy(
        update={"identity_provider": idp.model_copy(update={"issuer": entra.issuer})}
    )
    manifest = svc.manifest.model_copy(update={"security": security})
    settings = svc.settings.model_copy(update={"base_url": "http://testserver"})
    services = Services.open(settings, manifest, svc.clock, mailer=svc.mailbox,
                             notify=lambda _m: None)  # fmt: skip
    try:
        customer = services.vault.create_customer(SYSTEM, "Kund AB")
        services.identity.add_user("vera", "customer_admin", customer=customer, kind="customer")
        client = TestClient(create_app(settings, manifest, svc.clock, services=services))
        try:
            yield Portal(svc, services, client, entra, customer)
        finally:
            client.close()
    finally:
        services.close()


def test_V2_sign_in_is_delegated_to_the_identity_provider(portal: Portal) -> None:
    signed_in = portal.sign_in()
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["actor"] == "customer:vera"
    me = portal.client.get("/api/v1/auth/me").json()
    assert me["roles"] == ["customer_admin"] and me["customer"] == portal.customer
    # no password sign-in and no password store
    password = {"username": "vera", "password": "a-long-and-unusual-passphrase"}
    refused = portal.client.post("/api/v1/auth/login", json=password)
    assert refused.status_code == 403
    with pytest.raises(IdentityError, match="stores no passwords"):
        portal.services.login.set_password("vera", "a-long-and-unusual-passphrase")
    with portal.services.identity.tx() as s:
        assert s.scalars(select(UserRow.password_hash)).all() == [None]
    assert b"$argon2" not in portal.svc.raw()
    # the provider vouches only for people the service knows
    portal.provider.user = "mallory"
    portal.client.cookies.clear()
    assert portal.sign_in().status_code == 403


def test_V7_logout_ends_the_session_and_idle_sessions_expire(portal: Portal) -> None:
    body = portal.sign_in().json()
    token, csrf = body["session_token"], body["csrf_token"]
    assert portal.me(token) == 200
    out = portal.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert portal.me(token) == 401  # the old token is dead server-side
    portal.client.cookies.set("integritet_session", token)
    assert portal.client.get("/api/v1/auth/me").status_code == 401  # and so is the cookie
    portal.client.cookies.clear()
    # idle timeout (30 min in the manifest): use keeps a session alive, 30 idle minutes end it
    token = portal.sign_in().json()["session_token"]
    portal.svc.clock.advance(timedelta(minutes=29))
    assert portal.me(token) == 200
    portal.svc.clock.advance(timedelta(minutes=29))
    assert portal.me(token) == 200
    portal.svc.clock.advance(timedelta(minutes=31))
    assert portal.me(token) == 401
    # absolute timeout (12 h): even a session in use ends
    token = portal.sign_in().json()["session_token"]
    alive = []
    for _ in range(24):  # 24 x 29 min = 11 h 36 min, never idle for 30 minutes
        portal.svc.clock.advance(timedelta(minutes=29))
        alive.append(portal.me(token))
    assert alive == [200] * 24
    portal.svc.clock.advance(timedelta(minutes=29))  # 12 h 5 min after sign-in
    assert portal.me(token) == 401
