"""L9: alarms and status only to the customer's contacts who chose that category and channel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.consent import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.consent.wiring import open_consent
from integritet.errors import TelemetryError
from integritet.mail import Mailer
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.telemetry import open_telemetry
from integritet.telemetry.notify import Notifier, RecordingSender
from integritet.vault import open_vault

from ..conftest import SMTPServer

SYSTEM = Actor.system("setup")
PEOPLE = {
    "anna": {"email": "anna@example.se", "phone": "+46701234567"},
    "bo": {"email": "bo@example.se", "phone": "+46702345678"},
    "carl": {"email": "carl@example.se", "phone": "+46703456789"},
    "dora": {"email": "dora@example.se", "phone": "+46704567890"},
    "erik": {"email": "erik@example.se", "phone": "+46705678901"},
}


@dataclass
class Site:
    notifier: Notifier
    consent: ConsentLedger
    sms: RecordingSender
    phone: RecordingSender
    ids: dict[str, str]


@pytest.fixture
def site(
    settings: Settings, loggamera: Manifest, clock: FixedClock, smtp_server: SMTPServer
) -> Iterator[Site]:
    settings.home.mkdir(parents=True, exist_ok=True)
    vault = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    telemetry = open_telemetry(settings, loggamera, clock, engine=vault.engine)
    consent = open_consent(settings, loggamera, vault, clock)
    home_owner = vault.create_customer(SYSTEM, "Brf Solgläntan")
    other = vault.create_customer(SYSTEM, "Annan Fastighet AB")
    telemetry.add_machine(SYSTEM, "lg-1", home_owner, model="Loggamera Hub")
    ids = {
        name: vault.create_subject(
            SYSTEM, "account", identities, customer=other if name == "erik" else home_owner
        )
        for name, identities in PEOPLE.items()
    }
    evidence = Evidence(ConsentSource.portal, loggamera.policy.version)
    for name, channel in [("anna", "email"), ("anna", "sms"), ("bo", "email"),
                          ("bo", "phone"), ("dora", "email"), ("erik", "email")]:  # fmt: skip
        consent.record(ids[name], "status", channel, ConsentState.given, evidence)
    consent.record(ids["carl"], "reports", "email", ConsentState.given, evidence)
    vault.restrict(SYSTEM, ids["dora"], "disputed accuracy")
    mail_settings = settings.model_copy(
        update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    )
    sms, phone = RecordingSender(), RecordingSender()
    notifier = Notifier(
        telemetry, vault, consent, mailer=Mailer(mail_settings, timeout=5),
        senders={"sms": sms, "phone": phone},
    )  # fmt: skip
    try:
        yield Site(notifier, consent, sms, phone, ids)
    finally:
        vault.close()


def test_L9_status_goes_only_to_contacts_who_chose_status_on_that_channel(
    site: Site, smtp_server: SMTPServer
) -> None:
    result = site.notifier.notify(
        "lg-1", "status", "Larm: 35 °C i pannrummet, ring Anna Svensson på 070-123 45 67"
    )
    assert sorted(smtp_server.envelopes[i][1][0] for i in range(len(smtp_server.envelopes))) == [
        "anna@example.se",
        "bo@example.se",
    ]
    assert site.sms.messages[0][0] == "+46701234567"
    assert "35 °C" in site.sms.messages[0][1]
    assert [to for to, _ in site.phone.messages] == ["+46702345678"]
    assert result.sent == 4
    sent = {(d.subject, d.channel) for d in result.deliveries if d.status == "sent"}
    assert (site.ids["carl"], "email") not in sent  # consented to reports, not status
    skipped = {(d.subject, d.channel): d.reason for d in result.deliveries}
    assert skipped[(site.ids["carl"], "email")] == "no consent given"
    assert "restricted" in skipped[(site.ids["dora"], "email")]
    assert all(d.subject != site.ids["erik"] for d in result.deliveries)  # other customer
    # bilingual e-mail that says why; personal data in the message redacted
    message = smtp_server.messages[0]
    assert message["Subject"].startswith("Status för dina övervakningar / Status of your")
    body = message.get_content()
    assert "Larm: 35 °C i pannrummet, ring [PERSON] på [PHONE_NUMBER]" in body
    assert "via e-post" in body and "by email" in body and "settings page" in body
    assert site.sms.messages[0][1].endswith("ring [PERSON] på [PHONE_NUMBER]")


def test_L9_withdrawn_consent_gets_nothing(site: Site, smtp_server: SMTPServer) -> None:
    evidence = Evidence(ConsentSource.portal, "2024.1")
    site.consent.record(site.ids["anna"], "status", "sms", ConsentState.withdrawn, evidence)
    site.notifier.notify("lg-1", "status", "Larm")
    assert site.sms.messages == []
    assert len(smtp_server.messages) == 2  # anna still chose email


def test_L9_reports_reach_only_those_who_chose_reports(site: Site, smtp_server: SMTPServer) -> None:
    result = site.notifier.notify("lg-1", "reports", "Månadsrapport: 412 kWh")
    assert [env[1] for env in smtp_server.envelopes] == [["carl@example.se"]]
    assert result.sent == 1
    with pytest.raises(TelemetryError, match="not a notification category"):
        site.notifier.notify("lg-1", "newsletter", "Nyheter")


def test_L9_alarm_email_carries_a_one_click_unsubscribe_that_stops_the_next_one(
    site: Site, smtp_server: SMTPServer
) -> None:
    from integritet.consent import UnsubscribeLinks

    links = UnsubscribeLinks(b"u" * 32)
    site.notifier.unsubscribe = lambda subject, purpose, channel: links.url(
        "https://portal.example", subject, purpose, channel
    )
    site.notifier.notify("lg-1", "status", "Larm: 35 °C i pannrummet")
    to_anna = [m for m in smtp_server.messages if m["To"] == "anna@example.se"]
    header = str(to_anna[-1]["List-Unsubscribe"])
    assert header.startswith("<https://portal.example/unsubscribe/")
    assert to_anna[-1]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = header.strip("<>").rsplit("/", 1)[1]
    assert links.parse(token).subject_id == site.ids["anna"]
    links.unsubscribe(site.consent, token, "2024.1")  # the person clicks it
    again = site.notifier.notify("lg-1", "status", "Larm: 36 °C")
    reasons = {(d.subject, d.channel): d.reason for d in again.deliveries}
    assert "withdrawn" in reasons[(site.ids["anna"], "email")]
    assert (site.ids["anna"], "sms") not in {
        (d.subject, d.channel) for d in again.deliveries if d.status != "sent"
    }  # withdrawing email left her SMS choice alone
