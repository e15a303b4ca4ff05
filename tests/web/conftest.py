"""A web UI on a real database: two customers, two people, staff with and without MFA."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from integritet.access import Actor
from integritet.api.app import create_app
from integritet.api.demo import demo_manifest
from integritet.api.ratelimit import RateLimiter
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.services import Services
from integritet.settings import Settings

PASSWORD = "a-long-and-unusual-passphrase"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id, cheap
BASE_URL = "http://testserver"


@dataclass
class Outbox:
    """A mailer that keeps what it would send."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        unsubscribe_url: str | None = None,
    ) -> str:
        self.sent.append((to, subject, text))
        return f"<{len(self.sent)}@test>"

    def last_to(self, address: str) -> str:
        return next(text for to, _s, text in reversed(self.sent) if to == address)


@dataclass
class Web:
    services: Services
    client: TestClient
    clock: FixedClock
    mailer: Outbox
    customers: dict[str, str]
    subjects: dict[str, str]
    totp: dict[str, str]
    enrolled: set[str] = field(default_factory=set)

    def form_token(self, path: str) -> str:
        """GET a sign-in page and return the form's CSRF token."""
        html = self.client.get(path).text
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert found is not None
        return found.group(1)

    def csrf(self) -> str:
        value = self.client.cookies.get("integritet_csrf")
        assert value is not None
        return value

    def portal_sign_in(self, name: str) -> None:
        address = f"{name}@example.se"
        token = self.form_token("/portal/sign-in")
        response = self.client.post("/portal/sign-in", data={"email": address, "csrf_token": token})
        assert response.status_code == 200
        link = re.search(r"/portal/link/(\S+)", self.mailer.last_to(address))
        assert link is not None
        path = f"/portal/link/{link.group(1)}"
        token = self.form_token(path)
        response = self.client.post(path, data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 303

    def enrol(self, user: str) -> None:
        """Set the password (only for users a test signs in) and TOTP."""
        if user in self.enrolled:
            return
        login = self.services.login
        login.set_password(user, PASSWORD)
        if user in ("dpo", "support"):
            self.totp[user] = pyotp.parse_uri(login.enrol_totp(user)).secret
        self.enrolled.add(user)

    def console_sign_in(self, user: str) -> None:
        self.enrol(user)
        token = self.form_token("/console/sign-in")
        code = pyotp.TOTP(self.totp[user]).at(self.clock.now()) if user in self.totp else ""
        response = self.client.post(
            "/console/sign-in",
            data={"username": user, "password": PASSWORD, "code": code, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text


def open_web(settings: Settings, manifest: Manifest, clock: FixedClock) -> tuple[Services, Outbox]:
    mailer = Outbox()
    services = Services.open(settings, manifest, clock, mailer=mailer, notify=lambda _m: None)
    return services, mailer


def seed(services: Services) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Two customers, alice (a) and bob (b) with contact records, staff users."""
    system = Actor.system("test")
    vault = services.vault
    customers = {
        "a": vault.create_customer(system, "Kund A AB"),
        "b": vault.create_customer(system, "Kund B AB"),
    }
    subjects = {}
    for name, customer in (("alice", "a"), ("bob", "b")):
        sid = vault.create_subject(
            system, "account", {"email": f"{name}@example.se"}, customer=customers[customer]
        )
        subjects[name] = sid
        fields = {"name": name.title() + " Svensson", "email": f"{name}@example.se"}
        vault.put_record(system, "account", sid, "contact", fields, "person")
    identity = services.identity
    identity.add_user("dpo", "dpo")
    identity.add_user("support", "support")
    identity.add_user("admin_a", "customer_admin", customer=customers["a"], kind="customer")
    totp: dict[str, str] = {}
    return customers, subjects, totp


@pytest.fixture(autouse=True)
def webhook_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's processors sign webhooks with these secrets."""
    monkeypatch.setenv("VISMA_WEBHOOK_SECRET", "visma-test-secret")
    monkeypatch.setenv("MAILCHIMP_WEBHOOK_SECRET", "mailchimp-test-secret")


@pytest.fixture
def web_manifest(loggamera: Manifest) -> Manifest:
    return demo_manifest(loggamera)[0]


def build(database_url: str, home: Path, clock: FixedClock, manifest: Manifest) -> Iterator[Web]:
    settings = Settings(home=home, database_url=database_url, base_url=BASE_URL)
    services, mailer = open_web(settings, manifest, clock)
    services.identity.hasher = FAST_HASHER
    limiter = RateLimiter(capacity=50, per_minute=50, now=lambda: clock.now().timestamp())
    app = create_app(settings, manifest, clock, services=services, limiter=limiter)
    customers, subjects, totp = seed(services)
    client = TestClient(app, base_url=BASE_URL)
    try:
        yield Web(services, client, clock, mailer, customers, subjects, totp)
    finally:
        client.close()
        services.close()


@pytest.fixture
def web(
    migrated_database_url: str, tmp_path: Path, clock: FixedClock, web_manifest: Manifest
) -> Iterator[Web]:
    """On SQLite and PostgreSQL (fresh databases with the schema already migrated)."""
    yield from build(migrated_database_url, tmp_path / "home", clock, web_manifest)


@pytest.fixture
def sqlite_web(
    migrated_sqlite_url: str, tmp_path: Path, clock: FixedClock, web_manifest: Manifest
) -> Iterator[Web]:
    """On SQLite only, for tests that do not depend on the database."""
    yield from build(migrated_sqlite_url, tmp_path / "home", clock, web_manifest)
