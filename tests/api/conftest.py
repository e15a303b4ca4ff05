"""An API on a real database with two tenants, users of every kind and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from integritet.access import Actor
from integritet.api.app import create_app
from integritet.api.ratelimit import RateLimiter
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.services import Services
from integritet.settings import Settings

PASSWORD = "a-long-and-unusual-passphrase"


@dataclass
class FakeMailer:
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


@dataclass
class Env:
    """The app, its engines and the people in it."""

    services: Services
    client: TestClient
    clock: FixedClock
    mailer: FakeMailer
    customers: dict[str, str]
    subjects: dict[str, str]
    records: dict[str, str]
    tokens: dict[str, str]
    totp: dict[str, str]

    def login(self, user: str, password: str = PASSWORD) -> dict[str, str]:
        """Sign in (with the TOTP code when enrolled); returns the body (csrf, token)."""
        body = {"username": user, "password": password}
        if user in self.totp:
            body["code"] = pyotp.TOTP(self.totp[user]).at(self.clock.now())
        response = self.client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        data: dict[str, str] = response.json()
        return data

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_manifest(loggamera: Manifest) -> Manifest:
    """The Loggamera example as shipped: support, dpo, technician, customer_admin."""
    return loggamera


def offering_audit_log(manifest: Manifest) -> Manifest:
    """J16 (a Loop Backup promise) on Loggamera's roles: customer admins read their own log."""
    roles = [
        r.model_copy(update={"can": [*r.can, "read_audit"]}) if r.id == "customer_admin" else r
        for r in manifest.roles
    ]
    security = manifest.security.model_copy(update={"customer_audit_log": True})
    return manifest.model_copy(update={"roles": roles, "security": security})


def build_env(
    database_url: str, home: Path, clock: FixedClock, manifest: Manifest
) -> Iterator[Env]:
    settings = Settings(home=home, database_url=database_url)
    mailer = FakeMailer()
    services = Services.open(settings, manifest, clock, mailer=mailer, notify=lambda _m: None)
    limiter = RateLimiter(capacity=10, per_minute=10, now=lambda: clock.now().timestamp())
    app = create_app(settings, manifest, clock, services=services, limiter=limiter)
    system = Actor.system("test")
    vault = services.vault
    customers = {
        "a": vault.create_customer(system, "Kund A AB"),
        "b": vault.create_customer(system, "Kund B AB"),
    }
    subjects, records = {}, {}
    for name, customer in (("alice", "a"), ("bob", "b")):
        sid = vault.create_subject(
            system, "account", {"email": f"{name}@example.se"}, customer=customers[customer]
        )
        subjects[name] = sid
        records[name] = vault.put_record(
            system,
            "account",
            sid,
            "contact",
            {"name": name.title(), "email": f"{name}@example.se"},
            "person",
        )
    identity, login = services.identity, services.login
    identity.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast tests
    identity.add_user("dpo", "dpo")
    identity.add_user("support", "support")
    identity.add_user("admin_a", "customer_admin", customer=customers["a"], kind="customer")
    identity.add_user("tech_a", "technician")
    identity.assign("tech_a", "customer", customers["a"])
    totp = {}
    for user in ("dpo", "support", "admin_a", "tech_a"):
        login.set_password(user, PASSWORD)
    for user in ("dpo", "support", "tech_a"):  # their roles need MFA; customer_admin does not
        totp[user] = pyotp.parse_uri(login.enrol_totp(user)).secret
    all_scopes = [
        "read",
        "write",
        "erase",
        "export",
        "manage_requests",
        "manage_staff",
        "read_audit",
        "manage_consent",
        "run_retention",
        "ingest_telemetry",
        "read_telemetry",
    ]
    tokens = {
        "admin": identity.create_token("admin", all_scopes),
        "reader": identity.create_token("reader", ["read"]),
    }
    client = TestClient(app)
    try:
        yield Env(services, client, clock, mailer, customers, subjects, records, tokens, totp)
    finally:
        client.close()
        services.close()


@pytest.fixture
def env(
    migrated_database_url: str, tmp_path: Path, clock: FixedClock, api_manifest: Manifest
) -> Iterator[Env]:
    """On SQLite and PostgreSQL (fresh databases cloned from a migrated template)."""
    yield from build_env(migrated_database_url, tmp_path / "home", clock, api_manifest)


@pytest.fixture
def j16_env(
    migrated_database_url: str, tmp_path: Path, clock: FixedClock, api_manifest: Manifest
) -> Iterator[Env]:
    """Like ``env``, with the audit log offered to customer admins (J16)."""
    manifest = offering_audit_log(api_manifest)
    yield from build_env(migrated_database_url, tmp_path / "home", clock, manifest)


@pytest.fixture
def sqlite_env(
    migrated_sqlite_url: str, tmp_path: Path, clock: FixedClock, api_manifest: Manifest
) -> Iterator[Env]:
    """On SQLite only (for the slower, database-independent tests)."""
    yield from build_env(migrated_sqlite_url, tmp_path / "home", clock, api_manifest)
