"""CoffeeCloud (connected coffee machines by Scanomat): promises C1-C8, end to end.

Seed: shared/seeds/000_2a929f07035334be.txt; manifest: examples/coffeecloud/policy.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integritet.access import Actor
from integritet.errors import AccessDenied, DisclosureRefused, VaultError
from integritet.manifest import load_manifest
from scenarios.helpers import SYSTEM, Service

Make = Callable[[str, str | None], Service]
EMAIL = "kaffe.ansvarig@kontor.example"


def _contact(svc: Service, customer: str, email: str = EMAIL, source: str = "reseller") -> str:
    sid = svc.person(
        email,
        {"contact": {"name": "Kim Kaffesson", "company": "Kontoret AB", "email": email}},
        purposes={"contact": "service"},
        source=source,
        customer=customer,
    )
    machine = {"serial": "SC-7781", "counters": "brews=10422", "errors": "E17", "firmware": "4.2"}
    svc.vault.put_record(SYSTEM, "troubleshooting", sid, "machine_data", machine, "machine")
    return sid


def test_C1_the_source_is_recorded_per_record(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("coffeecloud", migrated_database_url)
    customer = svc.vault.create_customer(SYSTEM, "Kontoret AB")
    sid = _contact(svc, customer, source="distributor")
    ticket = {"contact_person": "Kim", "description": "Kvarnen låter"}
    svc.vault.put_record(SYSTEM, "service", sid, "service_notes", ticket, "customer")
    sources = {r.category: r.source for r in svc.vault.records(SYSTEM, "service", sid)}
    assert sources == {"contact": "distributor", "machine_data": "machine",
                       "service_notes": "customer"}  # fmt: skip
    with pytest.raises(VaultError, match="source 'machine' is not declared"):
        svc.vault.put_record(SYSTEM, "service", sid, "contact", {"name": "X"}, "machine")


def test_C3_the_stated_purposes_and_no_other_use(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("coffeecloud", migrated_database_url)
    sid = _contact(svc, svc.vault.create_customer(SYSTEM, "Kontoret AB"))
    assert svc.vault.records(SYSTEM, "uptime", sid, "machine_data")[0].fields["errors"] == "E17"
    with pytest.raises(AccessDenied, match="purpose 'marketing' is not declared"):
        svc.vault.records(SYSTEM, "marketing", sid, "contact")
    with pytest.raises(AccessDenied, match="purpose 'quality' may not use category 'contact'"):
        svc.vault.records(SYSTEM, "quality", sid, "contact")
    refused = [e for e in svc.vault.audit.entries(subject=sid) if e.outcome == "denied"]
    assert {e.purpose for e in refused} >= {"quality"}
    purposes = svc.cli("render", "--lang", "en").stdout.split("## Why we process", 1)[1]
    for name in ("quality standards", "Troubleshooting", "Software updates", "Less downtime"):
        assert name in purposes.split("\n## ")[0]


def test_C4_only_technicians_of_that_customer_see_machine_data(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("coffeecloud", migrated_database_url)
    ours = svc.vault.create_customer(SYSTEM, "Kontoret AB")
    theirs = svc.vault.create_customer(SYSTEM, "Annat AB")
    sid = _contact(svc, ours)
    other = _contact(svc, theirs, "annan@annat.example")
    tech = Actor.staff("tove", "technician", assigned_customers=frozenset({ours}))
    assert svc.vault.records(tech, "troubleshooting", sid, "machine_data")[0].fields["serial"]
    with pytest.raises(AccessDenied, match="assigned"):
        svc.vault.records(tech, "troubleshooting", other, "machine_data")
    seller = Actor.staff("sara", "sales", assigned_customers=frozenset({ours}))
    assert svc.vault.records(seller, "service", sid, "machine_data")
    with pytest.raises(AccessDenied):
        svc.vault.records(Actor.staff("frans", "finance"), "service", sid, "machine_data")
    partners = svc.manifest.recipient("service_partners")
    assert partners.categories == ["machine_data", "service_notes"]


def test_C5_no_financial_information_to_authorities(
    make_service: Make, migrated_database_url: str, tmp_path: Path
) -> None:
    svc = make_service("coffeecloud", migrated_database_url)

    def give_billing(data: dict[str, Any]) -> None:
        authorities = next(r for r in data["recipients"] if r["id"] == "authorities")
        authorities["categories"].append("billing")
        authorities["purposes"].append("invoicing")

    edited = svc.with_changes(tmp_path, give_billing)
    refused = svc.cli("check", str(edited))
    assert refused.exit_code == 1
    assert "financial-to-recipient" in refused.output and "authorities" in refused.output
    assert svc.cli("check").exit_code == 0
    sv = svc.cli("render", "--lang", "sv").stdout
    assert "Myndigheter med tillsyn över maskinen får aldrig finansiell information av oss" in sv
    # at run time: even a manifest that slipped past the check hands no billing data over
    sid = _contact(svc, svc.vault.create_customer(SYSTEM, "Kontoret AB"))
    billing = {"invoice_address": "Fakturavägen 9", "amount": "1 990 kr"}
    svc.vault.put_record(SYSTEM, "invoicing", sid, "billing", billing, "customer")
    inspector, basis = Actor.system("legal"), "Tillsyn enligt livsmedelslagen, dnr 2026-17"
    for gate in (svc.disclosures(), svc.disclosures(load_manifest(edited))):
        with pytest.raises(DisclosureRefused, match="financial category 'billing'"):
            gate.disclose(inspector, "invoicing", sid, "authorities", ["billing"],
                          legal_basis_note=basis)  # fmt: skip
    machine = svc.disclosures().disclose(inspector, "quality", sid, "authorities",
                                         legal_basis_note=basis)  # fmt: skip
    assert machine.legal and [r.category for r in machine.records] == ["machine_data"]
    assert [d.categories for d in svc.disclosures().received_by(sid)] == [("machine_data",)]


def test_C6_encrypted_with_aes_256_at_rest_and_in_transit(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("coffeecloud", migrated_database_url)
    sid = _contact(svc, svc.vault.create_customer(SYSTEM, "Kontoret AB"))
    billing = {"invoice_address": "Fakturavägen 9", "amount": "1 990 kr"}
    svc.vault.put_record(SYSTEM, "invoicing", sid, "billing", billing, "customer")
    raw = svc.raw()
    for value in (b"Kim Kaffesson", EMAIL.encode(), b"Fakturav", b"SC-7781"):
        assert value not in raw
    assert len(svc.vault.keyring.current_key) == 32  # 256-bit key-encryption key
    en = svc.cli("render", "--lang", "en").stdout.split("## How we protect", 1)[1]
    assert "AES-256" in en and "TLS 1.3" in en


def test_C7_material_change_needs_fresh_consent_and_shows_the_date(
    make_service: Make, migrated_database_url: str, tmp_path: Path
) -> None:
    svc = make_service("coffeecloud", migrated_database_url)
    assert (
        svc.cli("render", "--lang", "sv")
        .stdout.splitlines()[2]
        .startswith("Senast uppdaterad 1 augusti 2021.")
    )
    assert svc.cli("policy", "publish").exit_code == 0

    def share_contacts(data: dict[str, Any]) -> None:
        data["policy"]["version"] = "2026.1"
        partners = next(r for r in data["recipients"] if r["id"] == "service_partners")
        partners["categories"].append("contact")

    published = svc.cli(
        "policy", "publish", "--policy", str(svc.with_changes(tmp_path, share_contacts))
    )
    assert published.exit_code == 0, published.output
    assert "(material)" in published.stdout


def test_C8_a_contact_address_for_questions(make_service: Make) -> None:
    svc = make_service("coffeecloud", None)
    for lang in ("sv", "en"):
        page = svc.cli("render", "--lang", lang).stdout
        assert "support@scanomat.com" in page


def test_C2_no_card_or_sensitive_data_is_collected_from_machines(
    make_service: Make, migrated_database_url: str
) -> None:
    from integritet.telemetry import open_telemetry

    svc = make_service("coffeecloud", migrated_database_url)
    customer = svc.vault.create_customer(SYSTEM, "Kontoret AB")
    telemetry = open_telemetry(svc.settings, svc.manifest, svc.clock, engine=svc.vault.engine)
    telemetry.add_machine(SYSTEM, "sc-7781", customer, serial="SC-7781")
    at = svc.clock.now().isoformat()
    result = telemetry.ingest(
        SYSTEM,
        [
            {"machine": "sc-7781", "at": at, "brew_count": 10422, "boiler_temp": 94.5},
            {
                "machine": "sc-7781",
                "at": at,
                "error_code": "E17",
                "technician_note": "Kunden betalade med kort 4111 1111 1111 1111",
            },
        ],
    )
    assert result.records == 2 and result.stored == 1
    assert result.partial + result.refused == 1
    tech = Actor.staff("tove", "technician", assigned_customers=frozenset({customer}))
    readings = telemetry.readings(tech, "sc-7781", "troubleshooting")
    assert "4111 1111 1111 1111" not in repr(readings)
    assert b"4111 1111 1111 1111" not in svc.raw()
    assert {r.name for r in readings} >= {"brew_count", "boiler_temp"}
