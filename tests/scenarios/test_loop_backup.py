"""Loop Backup (cloud backup by CeeJay Software): promises J1-J18, end to end.

Seed: shared/seeds/003_fab44f865247f4d8.txt; manifest: examples/loop-backup/policy.yaml.
J8: the seed's Privacy Shield claim (examples/loop-backup/original-privacy-shield.yaml) is
refused by ``integritet check``; policy.yaml uses valid transfer mechanisms instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from integritet.access import Actor
from integritet.consent import ConsentSource, ConsentState, Evidence
from integritet.consent.wiring import open_consent
from integritet.errors import (
    AccessDenied,
    DisclosureRefused,
    KeyDestroyed,
    NotFound,
    ResidencyError,
    SubjectRestricted,
    VaultError,
)
from integritet.requests import Status
from integritet.residency import Residency
from integritet.retention import run as retention_run
from scenarios.helpers import ROOT, SYSTEM, Service

Make = Callable[[str, str | None], Service]
EMAIL = "jane.doe@acme.example"
PURPOSES = {
    "account": "service",
    "payment_card": "service",
    "password": "service",
    "content": "service",
    "sessions": "security",
}
PASSWORD_HASH = "scrypt$16384$8$1$c2FsdHNhbHQ=$3q2+7w=="


def _user(svc: Service, customer: str | None = None, email: str = EMAIL) -> str:
    return svc.person(
        email,
        {
            "account": {"first_name": "Jane", "last_name": "Doe", "email": email,
                        "company_address": "1 Backup Road, Leeds"},
            "password": {"password_hash": PASSWORD_HASH},
            "sessions": {"times": "2026-01-15T09:00Z", "ip": "192.0.2.44",
                         "browser": "Firefox 128", "device": "LAPTOP-JD"},
        },
        purposes=PURPOSES,
        customer=customer,
    )  # fmt: skip


def _content(svc: Service, sid: str) -> None:
    files = {"files": "kundregister.xlsx: Sven Svensson, 070-765 43 21"}
    svc.vault.put_record(SYSTEM, "service", sid, "content", files, "customer")


def _render(svc: Service, lang: str = "en") -> str:
    result = svc.cli("render", "--lang", lang)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_J1_account_data_and_only_a_password_hash(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    sid = _user(svc)
    with pytest.raises(VaultError, match="password"):
        svc.vault.put_record(SYSTEM, "service", sid, "password", {"password": "hunter2"}, "person")
    card = {"card": "4111 1111 1111 1111"}
    svc.vault.put_record(SYSTEM, "service", sid, "payment_card", card, "person")
    stored = {r.category: r.fields for r in svc.vault.records(SYSTEM, "service", sid)}
    assert stored["password"] == {"password_hash": PASSWORD_HASH}
    assert stored["account"]["last_name"] == "Doe"
    raw = svc.raw()
    assert b"hunter2" not in raw and b"4111 1111" not in raw and b"Backup Road" not in raw
    assert "only as a salted hash" in _render(svc)


def test_J2_backed_up_content_is_processed_for_the_customer(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    sid = _user(svc)
    _content(svc, sid)
    assert svc.manifest.category("content").role.value == "processor"
    with pytest.raises(AccessDenied, match="may not use category 'content'"):
        svc.vault.records(SYSTEM, "product_news", sid, "content")  # not for our own ends
    with pytest.raises(AccessDenied):
        svc.vault.records(Actor.staff("sue", "support"), "service", sid, "content")
    assert b"Sven Svensson" not in svc.raw()
    assert "processor" in _render(svc).split("## Our role", 1)[1].split("\n## ")[0]


def test_J3_session_records_are_kept_then_deleted(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    sid = _user(svc)
    engineer = Actor.staff("olle", "engineer")
    session = svc.vault.records(engineer, "security", sid, "sessions")[0].fields
    assert set(session) == {"times", "ip", "browser", "device"}
    svc.clock.advance(timedelta(days=366))
    retention_run(svc.manifest, svc.vault, svc.clock)
    assert svc.vault.records(engineer, "security", sid, "sessions") == []
    assert svc.vault.records(SYSTEM, "service", sid, "account")  # the account stays


def test_J4_cookies_identify_sessions_only(make_service: Make) -> None:
    svc = make_service("loop-backup", None)
    cookies = _render(svc).split("## Cookies", 1)[1].split("\n## ")[0]
    assert "**loop_session** (strictly necessary)" in cookies
    assert "We use no cookies for statistics or marketing." in cookies
    assert [c.kind.value for c in svc.manifest.cookies] == ["strictly_necessary"]


def test_J5_service_and_product_news_unless_opted_out(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    customer = svc.vault.create_customer(SYSTEM, "Acme Ltd")
    sid = _user(svc, customer)
    ledger = open_consent(svc.settings, svc.manifest, svc.vault, svc.clock)
    assert ledger.may_contact(sid, "product_news", "email")  # existing customer: soft opt-in
    prospect = _user(svc, None, "prospect@example.org")
    assert not ledger.may_contact(prospect, "product_news", "email")
    ledger.record(sid, "product_news", "email", ConsentState.withdrawn,
                  Evidence(ConsentSource.portal, svc.manifest.policy.version))  # fmt: skip
    assert not ledger.may_contact(sid, "product_news", "email")
    assert svc.vault.records(SYSTEM, "service", sid, "account")  # the service goes on


def test_J6_disclosure_on_legal_obligation_is_recorded_as_such(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    sid = _user(svc)
    with pytest.raises(AccessDenied):
        svc.vault.records(Actor.staff("sue", "support"), "legal_disclosure", sid, "account")
    gate, legal = svc.disclosures(), Actor.system("legal")
    with pytest.raises(DisclosureRefused, match="only where the law requires"):
        gate.disclose(legal, "legal_disclosure", sid, "authorities", ["sessions"])
    order = "Production order, Leeds Crown Court, case T20267001"
    done = gate.disclose(legal, "legal_disclosure", sid, "authorities", ["sessions"],
                         legal_basis_note=order)  # fmt: skip
    assert done.legal and done.records[0].fields["ip"] == "192.0.2.44"
    assert gate.note(done.id) == order  # sealed under the person's key, readable by staff
    events = [e for e in svc.vault.audit.entries(subject=sid) if e.action == "disclosure.legal"]
    assert [(e.actor, e.purpose, e.detail["recipient"]) for e in events] == [
        ("system:legal", "legal_disclosure", "authorities")
    ]
    assert "T20267001" not in json.dumps([e.detail for e in svc.vault.audit.entries()])
    assert [(d.recipient, d.legal) for d in gate.received_by(sid)] == [("authorities", True)]
    with pytest.raises(DisclosureRefused, match="financial category 'payment_card'"):
        gate.disclose(legal, "legal_disclosure", sid, "authorities", ["payment_card"],
                      legal_basis_note=order)  # fmt: skip
    assert "only when the law, a court order or other legal process requires it" in _render(svc)


def test_J7_crm_erp_and_accounting_only_to_serve_us(make_service: Make, tmp_path: Path) -> None:
    svc = make_service("loop-backup", None)
    for rid in ("crm", "erp"):
        recipient = svc.manifest.recipient(rid)
        assert recipient.role.value == "processor" and recipient.purposes == ["service"]

    def crm_marketing(data: dict[str, object]) -> None:
        crm = next(r for r in data["recipients"] if r["id"] == "crm")  # type: ignore[attr-defined,index]
        crm["categories"].append("sessions")

    refused = svc.cli("check", str(svc.with_changes(tmp_path, crm_marketing)))
    assert refused.exit_code == 1 and "recipient-unjustified" in refused.output
    assert "CRM-leverantör" in _render(svc)


def test_J8_privacy_shield_is_refused(make_service: Make) -> None:
    svc = make_service("loop-backup", None)
    original = ROOT / "examples" / "loop-backup" / "original-privacy-shield.yaml"
    refused = svc.cli("check", str(original))
    assert refused.exit_code == 1
    assert "transfer-privacy-shield" in refused.output and "Privacy Shield" in refused.output
    fixed = svc.cli("check", str(svc.policy))
    assert fixed.exit_code == 0, fixed.output
    mechanisms = {r.id: r.transfer.mechanism.value for r in svc.manifest.recipients}
    assert mechanisms["zendesk"] == "scc" and mechanisms["zoom"] == "adequacy"


def test_J9_access_and_restriction(make_service: Make, migrated_database_url: str) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    sid = _user(svc)
    requests = svc.requests()
    access = requests.new("access", email=EMAIL)
    requests.verify(access, "sue", "verified in the signed-in account")
    assert requests.process(access) == Status.completed
    assert requests.report(access).counts()["account"] == 1
    restriction = requests.new("restriction", email=EMAIL)
    requests.verify(restriction, "sue", "verified in the signed-in account")
    requests.process(restriction)
    with pytest.raises(SubjectRestricted):
        svc.vault.records(SYSTEM, "service", sid, "account")
    ledger = open_consent(svc.settings, svc.manifest, svc.vault, svc.clock)
    assert not ledger.may_contact(sid, "product_news", "email")  # no use, no disclosure


def test_J10_encrypted_at_rest_and_access_enforced(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    sid = _user(svc)
    raw = svc.raw()
    assert EMAIL.encode() not in raw and b"192.0.2.44" not in raw and b"LAPTOP-JD" not in raw
    with pytest.raises(AccessDenied, match="does not serve purpose 'security'"):
        svc.vault.records(Actor.staff("sue", "support"), "security", sid, "sessions")
    denied = [e for e in svc.vault.audit.entries(subject=sid) if e.outcome == "denied"]
    assert denied, "the refusal is in the audit log"
    security = _render(svc).split("## How we protect", 1)[1].split("\n## ")[0]
    assert "AES-256" in security and "TLS 1.2" in security


def test_J11_controller_or_processor_per_category(make_service: Make) -> None:
    svc = make_service("loop-backup", None)
    role = _render(svc).split("## Our role", 1)[1].split("\n## ")[0].lower()
    assert "we are the controller of account details" in role
    assert "backed-up content" in role and "processor" in role


def test_J12_published_list_of_sub_processors(make_service: Make) -> None:
    svc = make_service("loop-backup", None)
    recipients = _render(svc).split("## Who receives", 1)[1].split("\n## ")[0]
    for name in ("PayPal", "GoCardless", "Google Cloud Platform", "Amazon Web Services",
                 "Equinix", "Zendesk", "Zoom"):  # fmt: skip
        assert name in recipients


def test_J13_content_is_deleted_when_the_subscription_ends(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    sid = _user(svc)
    _content(svc, sid)
    svc.vault.record_event(SYSTEM, sid, "subscription_end", svc.clock.now())
    svc.clock.advance(timedelta(hours=1))
    retention_run(svc.manifest, svc.vault, svc.clock)
    assert svc.vault.records(SYSTEM, "service", sid, "content") == []
    assert svc.vault.records(SYSTEM, "service", sid, "account")  # kept 12 months
    assert b"Sven Svensson" not in svc.raw()


def test_J14_the_customer_chooses_where_its_data_is_stored(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    customer = svc.vault.create_customer(SYSTEM, "Acme Ltd", "556000-0002")
    sid = _user(svc, customer)
    shown = svc.cli("customers", "location", customer)
    assert shown.exit_code == 0 and "aws-frankfurt (Amazon Web Services" in shown.stdout
    chosen = svc.cli("customers", "location", "556000-0002", "gcp-finland")
    assert chosen.exit_code == 0, chosen.output
    assert "gcp-finland (Google Cloud Platform, Hamina (europe-north1), FI)" in chosen.stdout
    other = svc.cli("customers", "location", customer, "azure-us-east")
    assert other.exit_code == 3 and "not one of the offered" in other.stderr
    # at run time: a node in Frankfurt may no longer write this customer's backups
    backup = {"files": "rapport-2026.docx"}
    frankfurt = Residency(svc.vault, svc.manifest, svc.clock, here="aws-frankfurt")
    with pytest.raises(ResidencyError, match="chose 'gcp-finland'"):
        frankfurt.put_record(SYSTEM, "service", sid, "content", backup, "customer")
    assert svc.vault.records(SYSTEM, "service", sid, "content") == []
    finland = Residency(svc.vault, svc.manifest, svc.clock, here="gcp-finland")
    finland.put_record(SYSTEM, "service", sid, "content", backup, "customer")
    assert [r.fields for r in svc.vault.records(SYSTEM, "service", sid, "content")] == [backup]
    refusals = [e for e in svc.vault.audit.entries() if e.action == "residency.write"]
    assert [(e.outcome, e.customer) for e in refusals] == [("denied", customer)]
    assert "Hamina" in _render(svc)


def test_J15_erasure_on_request_in_time(make_service: Make, migrated_database_url: str) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    sid = _user(svc)
    requests = svc.requests()
    rid = requests.new("erasure", email=EMAIL)
    deadline = requests.get(rid).deadline
    assert deadline <= svc.clock.now() + timedelta(days=31)
    requests.verify(rid, "sue", "verified in the signed-in account")
    requests.approve(rid, "sue")
    svc.clock.advance(timedelta(days=2))
    requests.process(rid)
    told = {t.recipient_id for t in requests.tasks(rid)}
    assert {"crm", "erp", "paypal", "gocardless", "zendesk", "zoom"} <= told
    for recipient in told:
        requests.confirm_recipient(rid, recipient, "dpo", "the processor confirmed")
    assert requests.process(rid) == Status.completed
    assert svc.clock.now() < deadline and not requests.list_requests(overdue=True)
    with pytest.raises((KeyDestroyed, NotFound)):
        svc.vault.records(SYSTEM, "service", sid, "account")
    assert EMAIL.encode() not in svc.raw()


def test_J16_customers_retrieve_their_own_audit_log(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    acme = svc.vault.create_customer(SYSTEM, "Acme Ltd")
    other = svc.vault.create_customer(SYSTEM, "Other Ltd")
    jane = _user(svc, acme)
    olle = _user(svc, other, "olle@other.example")
    svc.vault.records(Actor.staff("sue", "support"), "service", jane, "account")
    svc.vault.close()
    svc._vault = None
    exported = svc.cli("audit", "export", "--customer", acme)
    assert exported.exit_code == 0, exported.output
    events = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    assert events and {e["customer"] for e in events} == {acme}
    assert any(e["subject"] == jane and e["actor"] == "staff:sue" for e in events)
    assert all(e["subject"] != olle for e in events)
    assert EMAIL not in exported.stdout
    assert svc.cli("audit", "verify").exit_code == 0


def test_J17_a_data_protection_officer_to_contact(make_service: Make) -> None:
    svc = make_service("loop-backup", None)
    contact = _render(svc).split("## Contact and data protection officer", 1)[1]
    assert "help@ceejay.com" in contact.split("\n## ")[0]
    assert svc.cli("check", str(svc.policy)).output.count("dpo-missing") == 0


def test_J18_marketing_opt_out_at_any_time(make_service: Make, migrated_database_url: str) -> None:
    svc = make_service("loop-backup", migrated_database_url)
    customer = svc.vault.create_customer(SYSTEM, "Acme Ltd")
    _user(svc, customer)
    svc.vault.close()
    svc._vault = None
    assert svc.cli("consent", "check", "product_news", "email", "--email", EMAIL).exit_code == 0
    out = svc.cli("consent", "set", "product_news", "email", "withdrawn", "--email", EMAIL,
                  "--source", "unsubscribe")  # fmt: skip
    assert out.exit_code == 0, out.output
    assert svc.cli("consent", "check", "product_news", "email", "--email", EMAIL).exit_code == 1
