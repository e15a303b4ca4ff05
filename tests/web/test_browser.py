"""The whole flow in Debian's headless Chromium (Playwright) against a real uvicorn server.

A data subject signs in by the emailed link (read from a real local SMTP server), changes a
consent, downloads their data, asks for erasure and confirms it with the emailed code; a
DPO signs in with password and TOTP, handles the request and sees it complete. A second
test walks every page in the other language and on a phone-sized screen. Screenshots go to
``test-artifacts/screenshots/`` (``<page>.png`` in the flow's language, ``<page>-en.png`` /
``<page>-sv.png`` in the other, ``<page>-narrow.png`` at 390 px); basic accessibility
(labels, ``lang``, one ``h1``, landmarks, keyboard reach, no sideways scrolling on a phone)
is checked on each page visited. One server and one browser serve the whole module.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn

from integritet.access import Actor
from integritet.api.app import create_app
from integritet.api.demo import demo_manifest
from integritet.consent import ConsentState
from integritet.manifest import load_manifest
from integritet.services import Services
from integritet.settings import Settings
from web.conftest import FAST_HASHER

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
EXAMPLE = ROOT / "examples" / "loggamera" / "policy.yaml"
PASSWORD = "a-long-and-unusual-passphrase"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Site:
    """One server, mailbox and browser shared by the tests of this module."""

    base: str
    services: Services
    smtp: Inbox
    browser: Any
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass
class Inbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted"


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if IN_CI:
            pytest.fail("Chromium is missing: under CI=true the browser tests must run")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def site(
    chromium: str, _sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A real uvicorn server on a free port (a pre-migrated SQLite copy), mail through a real
    local SMTP server, and one headless Chromium: started once for the module."""
    from aiosmtpd.controller import Controller
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("browser")
    shutil.copyfile(_sqlite_template, folder / "integritet.db")
    inbox, smtp_port, port = Inbox(), _free_port(), _free_port()
    mail = Controller(inbox, hostname="127.0.0.1", port=smtp_port, enable_SMTPUTF8=True)
    mail.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VISMA_WEBHOOK_SECRET", "visma-test-secret")
        env.setenv("MAILCHIMP_WEBHOOK_SECRET", "mailchimp-test-secret")
        env.setenv("INTEGRITET_SMTP_HOST", "127.0.0.1")
        env.setenv("INTEGRITET_SMTP_PORT", str(smtp_port))
        for name in ("TLS", "STARTTLS", "USER", "PASSWORD"):
            env.delenv(f"INTEGRITET_SMTP_{name}", raising=False)
        base = f"http://127.0.0.1:{port}"
        manifest = demo_manifest(load_manifest(EXAMPLE))[0]
        settings = Settings(
            home=folder / "home", database_url=f"sqlite:///{folder}/integritet.db", base_url=base
        )
        services = Services.open(settings, manifest, notify=lambda _m: None)
        services.identity.hasher = FAST_HASHER
        secrets = _seed(services)
        app = create_app(settings, manifest, services=services)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
        web = uvicorn.Server(config)
        thread = threading.Thread(target=web.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not web.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert web.started, "uvicorn did not start"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
                try:
                    yield Site(base, services, inbox, browser, secrets)
                finally:
                    browser.close()
        finally:
            web.should_exit = True
            thread.join(timeout=10)
            services.close()
            mail.stop()


def _seed(services: Services) -> dict[str, str]:
    """Anna and Erik (customers of Brf Solrosen; Erik has an objection filed) and two DPOs
    with passwords and TOTP secrets."""
    system = Actor.system("test")
    customer = services.vault.create_customer(system, "Brf Solrosen")
    sid = services.vault.create_subject(
        system, "account", {"email": "anna@example.se"}, customer=customer
    )
    fields = {"name": "Anna Lindqvist", "email": "anna@example.se", "address": "Storgatan 1"}
    services.vault.put_record(system, "account", sid, "contact", fields, "person")
    erik = services.vault.create_subject(
        system, "account", {"email": "erik.johansson-westerberg@example.se"}, customer=customer
    )
    fields = {
        "name": "Erik Johansson-Westerberg",
        "email": "erik.johansson-westerberg@example.se",
        "address": "Långa Vägen med ett mycket långt gatunamn 123, lgh 1104",
    }
    services.vault.put_record(system, "account", erik, "contact", fields, "person")
    services.requests.verify_by_link(services.requests.new("objection", subject=erik), erik)
    secrets = {}
    for user in ("dpo", "dpo2"):
        services.identity.add_user(user, "dpo")
        services.login.set_password(user, PASSWORD)
        secrets[user] = pyotp.parse_uri(services.login.enrol_totp(user)).secret
    return secrets


def _mail_to(smtp: Inbox, address: str, count: int, timeout: float = 10) -> str:
    """The text of the ``count``-th message to ``address`` (waiting for it to arrive)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in smtp.messages if address in str(m["To"])]
        if len(found) >= count:
            body = found[count - 1].get_body(preferencelist=("plain",))
            assert body is not None
            text: str = body.get_content()
            return text
        time.sleep(0.1)
    raise AssertionError(f"no message number {count} to {address}")


A11Y = """() => {
  const problems = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = (el.id && document.querySelector(`label[for="${el.id}"]`))
      || el.closest('label') || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) problems.push('unlabelled ' + (el.name || el.id));
  }
  if (!['sv', 'en'].includes(document.documentElement.lang)) problems.push('no lang');
  if (document.querySelectorAll('h1').length !== 1) problems.push('h1 count');
  for (const sel of ['main', 'header', 'nav', 'footer']) {
    if (!document.querySelector(sel)) problems.push('no ' + sel);
  }
  return problems;
}"""


def _check(page: Any, name: str) -> None:
    """Accessibility basics, then a full-page screenshot."""
    assert page.evaluate(A11Y) == [], name
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _tab_reaches(page: Any, texts: list[str], presses: int = 25) -> set[str]:
    """Press Tab from the top and collect the text of each focused element."""
    page.locator("body").focus()
    seen: set[str] = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        seen.add(page.evaluate("() => (document.activeElement.innerText || '').trim()"))
    return {t for t in texts if any(t in s for s in seen)}


def test_subject_and_dpo_flow(site: Site) -> None:
    context = site.browser.new_context(accept_downloads=True, locale="sv-SE")
    try:
        request_id = _subject_part(context.new_page(), site.base, site.services, site.smtp)
    finally:
        context.close()
    context = site.browser.new_context(locale="en-GB")
    try:
        page = context.new_page()
        _dpo_part(page, site.base, site.services, site.secrets["dpo"], request_id)
    finally:
        context.close()


def _subject_part(page: Any, base: str, services: Services, smtp: Any) -> str:
    page.goto(f"{base}/portal/sign-in")
    _check(page, "portal-sign-in")
    page.get_by_label("E-postadress").fill("anna@example.se")
    page.get_by_role("button", name="Skicka inloggningslänk", exact=True).click()
    page.get_by_role("heading", name="Titta i din e-post", exact=True).wait_for()
    link = re.search(r"http://\S+/portal/link/\S+", _mail_to(smtp, "anna@example.se", 1))
    assert link is not None
    page.goto(link.group(0))
    page.get_by_role("button", name="Logga in", exact=True).click()
    page.get_by_role("heading", name="Mina uppgifter", exact=True).wait_for()
    assert "Anna Lindqvist" in page.content()
    _check(page, "portal-my-data")
    reached = _tab_reaches(page, ["Hoppa till innehållet", "Samtycken", "Ladda ned", "Logga ut"])
    assert reached == {"Hoppa till innehållet", "Samtycken", "Ladda ned", "Logga ut"}

    page.get_by_role("link", name="Samtycken", exact=True).click()
    page.locator("label[for='c-newsletter-email']").click()
    _check(page, "portal-consents")
    page.get_by_role("button", name="Spara mina val", exact=True).click()
    page.get_by_text("Dina val är sparade.").wait_for()
    sid = services.vault.find_subject(Actor.system("t"), "account", "email", "anna@example.se")
    assert sid is not None
    states = {(c.purpose, c.channel): c.state for c in services.consent.current(sid)}
    assert states[("newsletter", "email")] == ConsentState.given

    page.get_by_role("link", name="Ladda ned", exact=True).click()
    _check(page, "portal-download")
    with page.expect_download() as info:
        page.get_by_role("button", name="Ladda ned JSON", exact=True).click()
    report = json.loads(Path(info.value.path()).read_text())
    assert any(c["id"] == "contact" and c["records"] for c in report["categories"])

    page.goto(f"{base}/portal/erase")
    _check(page, "portal-erase")
    page.get_by_label("Jag förstår att mina uppgifter raderas").check()
    page.get_by_role("button", name="Begär radering", exact=True).click()
    page.get_by_role("heading", name="Bekräfta raderingen", exact=True).wait_for()
    code = re.search(r"\b(\d{6})\b", _mail_to(smtp, "anna@example.se", 3))
    assert code is not None, "the confirmation code email"
    page.get_by_label("Kod (6 siffror)").fill(code.group(1))
    _check(page, "portal-confirm-erasure")
    page.get_by_role("button", name="Bekräfta radering", exact=True).click()
    page.get_by_text("du har bekräftat raderingen").wait_for()
    _check(page, "portal-requests")
    (view,) = [v for v in services.requests.list_requests() if v.kind.value == "erasure"]
    assert view.status.value == "confirmed"
    return view.id


def _dpo_part(page: Any, base: str, services: Services, secret: str, request_id: str) -> None:
    page.goto(f"{base}/console/sign-in?lang=en")
    _check(page, "console-sign-in")
    page.get_by_label("User name").fill("dpo")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("One-time code (TOTP)").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("heading", name="Data-subject requests", exact=True).wait_for()
    _check(page, "console-queue")
    page.get_by_role("link", name=request_id[:8]).click()
    page.get_by_role("heading", name=re.compile("Erasure")).wait_for()
    field = page.locator("#extend-reason")
    field.fill("Kontakta anna@example.se eller 070-123 45 67")
    warning = page.locator("#extend-reason-warn")
    warning.filter(has_text="email address").wait_for(timeout=5000)
    assert "phone number" in warning.inner_text()
    field.fill("")
    _check(page, "console-request")
    page.get_by_role("button", name="Process", exact=True).click()
    page.get_by_text("processed as far as it can go").wait_for()
    while page.get_by_role("button", name="Record confirmation", exact=True).count():
        page.get_by_role("button", name="Record confirmation", exact=True).first.click()
        page.get_by_text("The recipient's answer is recorded.").wait_for()
    page.get_by_role("button", name="Process", exact=True).click()
    page.get_by_role("heading", name="Erasure receipt", exact=True).wait_for()
    assert "Signature valid" in page.content()
    assert services.requests.get(request_id).status.value == "completed"
    _check(page, "console-request-completed")
    for path, name in [
        ("/console/audit", "console-audit"),
        ("/console/retention", "console-retention"),
        ("/console/register", "console-register"),
        ("/console/people", "console-people"),
        ("/console/policy", "console-policy"),
        ("/console/subjects", "console-subjects"),
    ]:
        page.goto(f"{base}{path}")
        _check(page, name)
    page.goto(f"{base}/console/audit")
    page.get_by_role("button", name="Check the chain now", exact=True).click()
    page.get_by_text("The chain is checked.").wait_for()
    assert "Intact" in page.content()
    _check(page, "console-audit")


PORTAL_PAGES = [
    ("/portal", "portal-my-data"),
    ("/portal/contact", "portal-contact"),
    ("/portal/consents", "portal-consents"),
    ("/portal/download", "portal-download"),
    ("/portal/requests", "portal-requests"),
    ("/portal/policy", "portal-policy"),
    ("/portal/erase", "portal-erase"),
]
CONSOLE_PAGES = [
    ("/console?show=all", "console-queue"),
    ("/console/subjects", "console-subjects"),
    ("/console/audit", "console-audit"),
    ("/console/retention", "console-retention"),
    ("/console/pii", "console-pii"),
    ("/console/register", "console-register"),
    ("/console/people", "console-people"),
    ("/console/policy", "console-policy"),
]
ERIK = "erik.johansson-westerberg@example.se"  # a long address, for the narrow screens
SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  const wide = [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > width + 1)
    .filter(el => !(el.parentElement && el.parentElement.closest('.table-scroll')))
    .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
  return wide.length ? wide : ['the document is ' + document.documentElement.scrollWidth + ' px'];
}"""


def _walk(page: Any, base: str, pages: list[tuple[str, str]], lang: str) -> None:
    """Each page in ``lang`` at desktop width, then at 390 px without sideways scrolling."""
    for width, suffix in ((1280, f"-{lang}"), (390, f"-{lang}-narrow")):
        page.set_viewport_size({"width": width, "height": 900})
        for path, name in pages:
            joiner = "&" if "?" in path else "?"
            page.goto(f"{base}{path}{joiner}lang={lang}")
            assert page.evaluate("() => document.documentElement.lang") == lang
            assert page.evaluate(SIDEWAYS) == [], f"{name} scrolls sideways at {width} px"
            _check(page, name + suffix)


def test_every_page_in_the_other_language_and_on_a_phone(site: Site) -> None:
    context = site.browser.new_context(locale="en-GB")
    try:
        page = context.new_page()
        page.goto(f"{site.base}/portal/sign-in")
        _check(page, "portal-sign-in-en")
        page.get_by_label("Email address").fill(ERIK)
        page.get_by_role("button", name="Send sign-in link", exact=True).click()
        page.get_by_role("heading", name="Check your email", exact=True).wait_for()
        text = _mail_to(site.smtp, ERIK, 1)
        link = re.search(r"http://\S+/portal/link/\S+", text)
        assert link is not None
        page.goto(link.group(0))
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("heading", name="My data", exact=True).wait_for()
        _walk(page, site.base, PORTAL_PAGES, "en")
    finally:
        context.close()
    context = site.browser.new_context(locale="sv-SE")
    try:
        page = context.new_page()
        page.goto(f"{site.base}/console/sign-in")
        _check(page, "console-sign-in-sv")
        page.get_by_label("Användarnamn").fill("dpo2")
        page.get_by_label("Lösenord").fill(PASSWORD)
        page.get_by_label("Engångskod (TOTP)").fill(pyotp.TOTP(site.secrets["dpo2"]).now())
        page.get_by_role("button", name="Logga in", exact=True).click()
        page.get_by_role("heading", name="Ärenden från registrerade", exact=True).wait_for()
        _walk(page, site.base, CONSOLE_PAGES, "sv")
    finally:
        context.close()
