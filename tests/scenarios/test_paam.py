"""PAAM Systems (products, service, CRM): promises P1-P12, end to end.

Seed: shared/seeds/004_0afd55fc1773f815.txt; manifest: examples/paam/policy.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from integritet.access import Actor
from integritet.errors import (
    AccessDenied,
    DisclosureRefused,
    KeyDestroyed,
    NotFound,
    SubjectRestricted,
)
from integritet.requests import Requests, Status
from integritet.retention import run as retention_run
from scenarios.helpers import SYSTEM, Service, body

Make = Callable[[str, str | None], Service]
EMAIL = "petra.persson@kund.example"
PURPOSES = {
    "crm_contact": "customer_relationship",
    "billing": "invoicing",
    "product_data": "products",
}
CONTACT = {
    "name": "Petra Persson",
    "company_address": "Industrigatan 5, 582 73 Linköping",
    "email": EMAIL,
    "phone": "+46131234567",
    "job_title": "Inköpschef",
}


def _customer(svc: Service) -> str:
    """Petra gave her contact details herself; billing and product data come from her firm."""
    sid = svc.person(EMAIL, {"crm_contact": CONTACT}, purposes=PURPOSES)
    billing = {"invoice_address": "Box 1, 582 73 Linköping", "invoices": "F-2026-17"}
    svc.vault.put_record(SYSTEM, "invoicing", sid, "billing", billing, "customer")
    product = {"records": "Mätserie 14 från kundens anläggning"}
    svc.vault.put_record(SYSTEM, "products", sid, "product_data", product, "customer")
    return sid


def _verified(requests: Requests, kind: str, **kwargs: Any) -> str:
    rid = requests.new(kind, email=EMAIL, **kwargs)
    requests.verify(rid, "kundtjanst", "identity checked against the customer register")
    return rid


def test_P1_contact_billing_and_job_title_are_held(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("paam", migrated_database_url)
    sid = _customer(svc)
    fields = svc.vault.records(SYSTEM, "customer_relationship", sid, "crm_contact")[0].fields
    assert fields == CONTACT
    billing = svc.vault.records(SYSTEM, "invoicing", sid, "billing")[0].fields
    assert billing["invoices"] == "F-2026-17"
    raw = svc.raw()
    assert b"Petra Persson" not in raw and b"Inkopschef" not in raw and EMAIL.encode() not in raw


def test_P2_visitor_ips_are_truncated_then_deleted(make_service: Make, tmp_path: Path) -> None:
    svc = make_service("paam", None)
    logs = tmp_path / "nginx"
    logs.mkdir()
    line = '{ip} - - [{day}/{mon}/2026:10:00:00 +0000] "GET /produkter HTTP/1.1" 200 5 "-" "-"'
    old = line.format(ip="203.0.113.10", day="01", mon="Sep")
    mid = line.format(ip="203.0.113.20", day="15", mon="Nov")
    new = line.format(ip="203.0.113.30", day="15", mon="Dec")
    (logs / "paam-access.log").write_text(f"{old}\n{mid}\n{new}\n", encoding="utf-8")
    source = svc.manifest.log_sources[0].model_copy(update={"path": str(logs / "paam-access.log*")})
    manifest = svc.manifest.model_copy(update={"log_sources": [source]})
    svc.clock.set(svc.clock.now().replace(year=2026, month=12, day=20))
    report = retention_run(manifest, svc.vault, svc.clock)
    assert report.logs[0].total("removed") == 1 and report.logs[0].total("truncated") >= 1
    kept = (logs / "paam-access.log").read_text(encoding="utf-8")
    assert "203.0.113.10" not in kept  # older than three months: gone
    assert "203.0.113.20" not in kept and "/produkter" in kept  # over 30 days: IP truncated
    assert new in kept  # five days old: kept as it was


def test_P3_roles_encryption_mfa_and_password_policy(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("paam", migrated_database_url)
    sid = _customer(svc)
    finance = Actor.staff("eva", "finance")
    assert svc.vault.records(finance, "invoicing", sid, "billing")[0].fields["invoices"]
    with pytest.raises(AccessDenied, match="does not serve purpose 'invoicing'"):
        svc.vault.records(Actor.staff("sam", "sales"), "invoicing", sid, "billing")
    with pytest.raises(AccessDenied):
        svc.vault.records(Actor.staff("ivan", "it_security"), "customer_relationship", sid)
    assert b"F-2026-17" not in svc.raw() and b"Petra" not in svc.raw()
    security = svc.manifest.security
    assert security.mfa and security.password_policy.min_length == 14
    en = svc.cli("render", "--lang", "en").stdout
    assert "multi-factor" in en.lower() and "14" in en


def test_P4_agreement_end_deletes_or_anonymises(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("paam", migrated_database_url)
    sid = _customer(svc)
    svc.vault.record_event(SYSTEM, sid, "contract_end", svc.clock.now())
    svc.clock.advance(timedelta(days=1))
    report = retention_run(svc.manifest, svc.vault, svc.clock)
    assert report.done >= 2
    with pytest.raises((KeyDestroyed, NotFound)):
        svc.vault.records(SYSTEM, "products", sid, "product_data")
    assert svc.vault.find_subject(SYSTEM, "customer_relationship", "email", EMAIL) is None
    held = svc.vault.records(SYSTEM, "invoicing", sid, "billing")  # Bokföringslagen
    assert held[0].fields["invoices"] == "F-2026-17"
    raw = svc.raw()
    assert b"Petra Persson" not in raw and b"Kundens anl" not in raw


def test_P5_controller_for_crm_processor_for_products(make_service: Make) -> None:
    svc = make_service("paam", None)
    roles = {c.id: c.role.value for c in svc.manifest.categories}
    assert roles["crm_contact"] == "controller" and roles["product_data"] == "processor"
    en = svc.cli("render", "--lang", "en").stdout
    section = en.split("## Our role", 1)[1].split("\n## ", 1)[0].lower()
    assert "we are the controller of contact details" in section
    assert "personal data in our products" in section and "processor" in section


def test_P6_disclosure_only_for_delivery_and_legal_obligations(
    make_service: Make, migrated_database_url: str, tmp_path: Path
) -> None:
    svc = make_service("paam", migrated_database_url)
    sid = _customer(svc)
    requests = svc.requests()
    rid = _verified(requests, "access")
    requests.process(rid)
    report = requests.report(rid).as_dict()
    shared = json.dumps(report, ensure_ascii=False)
    assert "Transportföretaget" in shared and "Myndigheter" in shared
    # at run time: the carrier gets the contact for a delivery, authorities only on a legal basis
    gate, sales = svc.disclosures(), Actor.system("orders")
    carrier = gate.disclose(sales, "delivery", sid, "carrier")
    assert carrier.records[0].fields["company_address"] == CONTACT["company_address"]
    with pytest.raises(DisclosureRefused, match="only where the law requires"):
        gate.disclose(sales, "invoicing", sid, "authorities", ["billing"])
    tax = gate.disclose(sales, "invoicing", sid, "authorities", ["billing"],
                        legal_basis_note="Skatteverkets revision, dnr 131-2026")  # fmt: skip
    assert tax.legal and tax.records[0].fields["invoices"] == "F-2026-17"
    with pytest.raises(DisclosureRefused, match="not declared to receive 'product_data'"):
        gate.disclose(sales, "delivery", sid, "carrier", ["product_data"])
    assert sorted(d.recipient for d in gate.received_by(sid)) == ["authorities", "carrier"]

    def add_partner(data: dict[str, Any]) -> None:
        data["recipients"].append(
            {"id": "partner", "name": "Partner AB", "role": "independent_controller",
             "categories": ["billing"], "purposes": ["delivery"], "erasure": {"method": "manual"}}
        )  # fmt: skip

    refused = svc.cli("check", str(svc.with_changes(tmp_path, add_partner)))
    assert refused.exit_code == 1 and "recipient-unjustified" in refused.output


def test_P7_information_what_is_held_and_how_to_get_it(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("paam", migrated_database_url)
    _customer(svc)
    requests = svc.requests()
    rid = _verified(requests, "access")
    assert requests.process(rid) == Status.completed
    report = requests.report(rid)
    counts = report.counts()
    assert counts["crm_contact"] == 1 and counts["billing"] == 1
    text = json.dumps(report.as_dict(), ensure_ascii=False)
    assert "Petra Persson" in text and "F-2026-17" in text
    assert svc.mailbox.to(EMAIL), "the person is told the answer is ready"


def test_P8_rectification(make_service: Make, migrated_database_url: str) -> None:
    svc = make_service("paam", migrated_database_url)
    sid = _customer(svc)
    requests = svc.requests()
    rid = _verified(requests, "rectification", changes={"crm_contact": {"job_title": "Vd"}})
    requests.process(rid)
    assert requests.get(rid).status in {Status.completed, Status.waiting_for_recipients}
    fields = svc.vault.records(SYSTEM, "customer_relationship", sid, "crm_contact")[0].fields
    assert fields["job_title"] == "Vd" and fields["name"] == "Petra Persson"


def test_P9_restriction_stops_all_processing_but_storage(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("paam", migrated_database_url)
    sid = _customer(svc)
    requests = svc.requests()
    rid = _verified(requests, "restriction")
    requests.process(rid)
    for purpose, category in [("customer_relationship", "crm_contact"), ("delivery", None),
                              ("invoicing", "billing"), ("products", "product_data")]:  # fmt: skip
        with pytest.raises(SubjectRestricted):
            svc.vault.records(SYSTEM if category else Actor.staff("s", "sales"), purpose, sid,
                              category)  # fmt: skip
    with pytest.raises(SubjectRestricted):
        svc.vault.put_record(SYSTEM, "products", sid, "product_data", {"records": "x"}, "customer")
    requests.lift_restriction(rid, "dpo")
    assert svc.vault.records(SYSTEM, "customer_relationship", sid, "crm_contact")[0].fields


def test_P10_portability_machine_readable_contract_and_consent_data(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("paam", migrated_database_url)
    _customer(svc)
    requests = svc.requests()
    rid = _verified(requests, "portability")
    requests.process(rid)
    data = json.loads(json.dumps(requests.report(rid).as_dict()))
    assert data["kind"] == "portability"
    ids = {c["id"] for c in data["categories"]}
    assert ids == {"crm_contact"}  # what Petra gave us herself, processed under contract
    record = data["categories"][0]["records"][0]
    assert record["fields"]["email"] == EMAIL and record["source"] == "person"


def test_P11_erasure_case_by_case_with_exceptions(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("paam", migrated_database_url)
    sid = _customer(svc)
    requests = svc.requests()
    refused = _verified(requests, "erasure")
    requests.reject(refused, "dpo", "Avtalet löper / the agreement is active", "active_agreement")
    assert requests.get(refused).status == Status.rejected
    assert "IMY" in body(svc.mailbox.to(EMAIL)[-1])
    assert svc.vault.records(SYSTEM, "customer_relationship", sid, "crm_contact")

    rid = _verified(requests, "erasure")
    requests.approve(rid, "dpo")
    requests.process(rid)
    for recipient in ("carrier",):
        requests.confirm_recipient(rid, recipient, "dpo", "carrier confirmed")
    requests.process(rid)
    with pytest.raises((KeyDestroyed, NotFound)):
        svc.vault.records(SYSTEM, "customer_relationship", sid, "crm_contact")
    kept = svc.vault.records(SYSTEM, "invoicing", sid, "billing")
    assert kept[0].fields["invoices"] == "F-2026-17"  # legal obligation: Bokföringslagen


def test_P12_major_changes_are_emailed(
    make_service: Make, migrated_database_url: str, tmp_path: Path
) -> None:
    svc = make_service("paam", migrated_database_url)
    _customer(svc)
    svc.vault.close()
    svc._vault = None
    assert svc.cli("policy", "publish").exit_code == 0

    def new_recipient(data: dict[str, Any]) -> None:
        data["policy"]["version"] = "2026.1"
        data["recipients"].append(
            {"id": "crm_cloud", "name": "CRM Moln AB", "role": "processor",
             "categories": ["crm_contact"], "purposes": ["customer_relationship"],
             "erasure": {"method": "email", "email": "privacy@crm.example"}}
        )  # fmt: skip

    published = svc.cli(
        "policy", "publish", "--policy", str(svc.with_changes(tmp_path, new_recipient))
    )
    assert published.exit_code == 0, published.output
    assert "material" in published.stdout and "1 sent" in published.stdout
    notices = svc.mailbox.to(EMAIL)
    assert len(notices) == 1 and "2026.1" in body(notices[0])
