"""Every email carries List-Unsubscribe; the default link opens the preferences page.

Real SMTP (aiosmtpd), the real Mailer as the product wires it (Services.open without a
mailer of its own), and the mail each feature sends: the portal's sign-in link, a
request's notice and verification code, a retention warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from integritet import retention
from integritet.access import Actor
from integritet.api.app import create_app
from integritet.api.ratelimit import RateLimiter
from integritet.clock import FixedClock
from integritet.consent import ConsentSource, ConsentState, Evidence
from integritet.manifest import Manifest
from integritet.services import Services
from integritet.settings import Settings

BASE_URL = "http://testserver"
ALICE = "alice@example.se"
LINK = re.compile(r"<http://testserver(/portal/preferences/[^>]+)>")


@dataclass
class Site:
    services: Services
    client: TestClient
    clock: FixedClock
    alice: str


@pytest.fixture
def site(
    migrated_sqlite_url: str,
    tmp_path: Path,
    clock: FixedClock,
    loggamera: Manifest,
    smtp_server: Any,
) -> Iterator[Site]:
    settings = Settings(home=tmp_path / "home", database_url=migrated_sqlite_url, base_url=BASE_URL)
    services = Services.open(settings, loggamera, clock, notify=lambda _m: None)
    limiter = RateLimiter(capacity=50, per_minute=50, now=lambda: clock.now().timestamp())
    app = create_app(settings, loggamera, clock, services=services, limiter=limiter)
    system = Actor.system("test")
    customer = services.vault.create_customer(system, "Kund AB")
    alice = services.vault.create_subject(system, "account", {"email": ALICE}, customer=customer)
    services.vault.put_record(
        system, "account", alice, "contact", {"name": "Alice", "email": ALICE}, "person"
    )
    evidence = Evidence(ConsentSource.import_, loggamera.policy.version)
    services.consent.record(alice, "newsletter", "email", ConsentState.given, evidence)
    client = TestClient(app, base_url=BASE_URL)
    try:
        yield Site(services, client, clock, alice)
    finally:
        client.close()
        services.close()


def _preferences_link(message: EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    found = LINK.search(header)
    assert found is not None, header
    return found.group(1)


def test_every_kind_of_mail_carries_list_unsubscribe(site: Site, smtp_server: Any) -> None:
    services = site.services
    # the portal's sign-in link
    page = site.client.get("/portal/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    site.client.post("/portal/sign-in", data={"email": ALICE, "csrf_token": token.group(1)})
    # a request's notice and its verification code
    request_id = services.requests.new("erasure", email=ALICE)
    services.requests.send_code(request_id)
    # a retention warning: last login 3 years minus 10 days ago, warned 30 days ahead
    services.vault.record_event(
        Actor.system("test"),
        site.alice,
        "last_login",
        site.clock.now() - timedelta(days=3 * 365 - 10),
    )
    report = retention.run(services.manifest, services.vault, site.clock, mailer=services.mailer)
    assert sum(w.sent for w in report.warnings) == 1

    messages = smtp_server.messages
    assert len(messages) >= 3
    for message in messages:
        assert message["To"] == ALICE
        header = str(message["List-Unsubscribe"])
        assert _preferences_link(message).startswith("/portal/preferences/v1.")
        # the controller's contact as mailto (RFC 2369), from the manifest
        assert "<mailto:support@loggamera.se?subject=" in header
        assert ALICE not in header and "alice" not in header  # sealed, not readable
        # not a one-click link: the page asks for a confirming click
        assert message["List-Unsubscribe-Post"] is None
    subjects = [str(m["Subject"]).lower() for m in messages]
    assert any("logga in" in s or "sign-in" in s for s in subjects), subjects
    assert any("kod" in s or "code" in s for s in subjects), subjects


def test_default_link_works_without_login_and_withdraws_every_consent(
    site: Site, smtp_server: Any
) -> None:
    services = site.services
    services.requests.send_code(services.requests.new("access", email=ALICE))
    path = _preferences_link(smtp_server.messages[-1])
    assert services.consent.may_contact(site.alice, "newsletter", "email").allowed

    page = site.client.get(path)  # no session cookie: the signed link is the proof
    assert page.status_code == 200
    assert "Nyhetsbrev" in page.text or "newsletter" in page.text.lower()
    assert ALICE not in page.text
    # a GET changes nothing (mail scanners follow links)
    assert services.consent.may_contact(site.alice, "newsletter", "email").allowed

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    done = site.client.post(path, data={"csrf_token": token.group(1)})
    assert done.status_code == 200
    decision = services.consent.may_contact(site.alice, "newsletter", "email")
    assert not decision.allowed and "withdrawn" in decision.reason
    # every consent purpose and channel, not only the given one
    current = services.consent.current(site.alice)
    assert current and all(c.state == ConsentState.withdrawn for c in current)
    assert {c.purpose for c in current} == {cp.id for cp in services.manifest.consent_purposes}


def test_post_without_the_form_token_changes_nothing(site: Site, smtp_server: Any) -> None:
    services = site.services
    services.requests.send_code(services.requests.new("access", email=ALICE))
    path = _preferences_link(smtp_server.messages[-1])
    response = site.client.post(path, data={})  # what a one-click POST would send
    assert response.status_code in (403, 422)
    assert services.consent.may_contact(site.alice, "newsletter", "email").allowed


def test_a_changed_link_is_refused(site: Site, smtp_server: Any) -> None:
    services = site.services
    services.requests.send_code(services.requests.new("access", email=ALICE))
    path = _preferences_link(smtp_server.messages[-1])
    middle = len(path) - 20  # inside the ciphertext (a last character may be padding bits)
    tampered = path[:middle] + ("A" if path[middle] != "A" else "B") + path[middle + 1 :]
    assert site.client.get(tampered).status_code == 404
    assert site.client.get("/portal/preferences/v1.bm90LWEtdG9rZW4").status_code == 404
    assert site.client.get("/portal/preferences/x").status_code == 404
    page = site.client.get(path)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    refused = site.client.post(tampered, data={"csrf_token": token.group(1)})
    assert refused.status_code == 404
    assert services.consent.may_contact(site.alice, "newsletter", "email").allowed


def test_policy_change_notice_from_the_cli_carries_list_unsubscribe(
    site: Site, smtp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`integritet policy publish` builds its own Mailer(settings): same header."""
    from typer.testing import CliRunner

    from integritet.cli.app import app as cli

    settings = site.services.settings
    monkeypatch.setenv("INTEGRITET_HOME", str(settings.home))
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("INTEGRITET_BASE_URL", BASE_URL)
    original = (Path(__file__).parents[2] / "examples" / "loggamera" / "policy.yaml").read_text()
    edited = original.replace('  version: "2024.1"', '  version: "2024.2"', 1).replace(
        "    duration: 3y\n    anchor: last_login", "    duration: 5y\n    anchor: last_login", 1
    )  # a material change to how long contact data is kept: everyone with it is told
    assert edited.count("2024.2") == 1 and "duration: 5y" in edited
    (tmp_path / "v1.yaml").write_text(original)
    (tmp_path / "v2.yaml").write_text(edited)
    runner = CliRunner()
    first = runner.invoke(cli, ["policy", "publish", "--policy", str(tmp_path / "v1.yaml")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, ["policy", "publish", "--policy", str(tmp_path / "v2.yaml")])
    assert second.exit_code == 0, second.output
    (notice,) = [m for m in smtp_server.messages if m["To"] == ALICE]
    assert _preferences_link(notice).startswith("/portal/preferences/v1.")
    assert notice["List-Unsubscribe-Post"] is None
    assert site.client.get(_preferences_link(notice)).status_code == 200


def test_only_the_mailer_sends_mail() -> None:
    """Every email goes through integritet.mail.Mailer, which adds List-Unsubscribe: no other
    module talks SMTP or builds messages of its own."""
    src = Path(__file__).parents[2] / "src" / "integritet"
    senders = [
        path.relative_to(src).as_posix()
        for path in src.rglob("*.py")
        if re.search(r"\bsmtplib\b|EmailMessage\(\)", path.read_text(encoding="utf-8"))
    ]
    assert senders == ["mail.py"]
