"""VIEWMYBOX (monitoring subscription portal by Addimotion): promises V1, V3-V6, V8.

Seed: shared/seeds/001_23703ac5ce87f80b.txt; manifest: examples/viewmybox/policy.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integritet.access import Actor
from integritet.errors import AccessDenied
from integritet.manifest import load_manifest
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
    make_service: Make, database_url: str, tmp_path: Path
) -> None:
    svc = make_service("viewmybox", database_url)
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


def test_V3_registration_records_ip_browser_and_time(make_service: Make, database_url: str) -> None:
    svc = make_service("viewmybox", database_url)
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
    make_service: Make, database_url: str
) -> None:
    svc = make_service("viewmybox", database_url)
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
    make_service: Make, database_url: str, tmp_path: Path
) -> None:
    svc = make_service("viewmybox", database_url)
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
    make_service: Make, database_url: str
) -> None:
    svc = make_service("viewmybox", database_url)
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


def test_V8_runs_in_a_named_region_and_stays_there(make_service: Make, tmp_path: Path) -> None:
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
