"""Access, portability, rectification, restriction and objection end to end (Python API)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from integritet.connectors.memory import MemoryConnector
from integritet.connectors.sql import SQLConnector
from integritet.errors import SubjectRestricted
from integritet.manifest.model import Dataset, DatasetColumn, DatasetReference, DatasetTable
from integritet.requests import Status
from integritet.requests import access as access_right


def _verified(world: Any, kind: str, **kwargs: Any) -> str:
    rid: str = world.requests.new(kind, **kwargs)
    world.requests.verify(rid, "dpo", "checked")
    return rid


def _crm(tmp_path: Path) -> tuple[Dataset, str]:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT)"))
        conn.execute(
            text(
                "CREATE TABLE tickets (id INTEGER PRIMARY KEY, customer_id INTEGER "
                "REFERENCES customers(id), body TEXT)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO customers VALUES (1, 'anna@example.se', 'Anna'), "
                "(2, 'bo@example.se', 'Bo')"
            )
        )
        conn.execute(text("INSERT INTO tickets VALUES (10, 1, 'pump broken'), (11, 2, 'ok')"))
    engine.dispose()
    dataset = Dataset(
        id="crm",
        url=url,
        tables=[
            DatasetTable(
                name="customers",
                columns={
                    "email": DatasetColumn(category="contact", identity="email"),
                    "name": DatasetColumn(category="contact"),
                },
                erase="delete",
            ),
            DatasetTable(
                name="tickets",
                columns={"body": DatasetColumn(category="contact")},
                references=[DatasetReference(column="customer_id", table="customers")],
                erase="delete",
            ),
        ],
    )
    return dataset, url


def test_access_covers_vault_datasets_and_manifest(world: Any, tmp_path: Path) -> None:
    dataset, url = _crm(tmp_path)
    connector = SQLConnector(dataset, url, manifest=world.manifest)
    world.requests.ctx.connectors = {"crm": connector}
    try:
        rid = _verified(world, "access", email=world.identities["email"])
        assert world.requests.process(rid) == Status.completed
        report = world.requests.report(rid)
    finally:
        connector.engine.dispose()
    data = json.loads(access_right.to_json(report))
    by_id = {c["id"]: c for c in data["categories"]}
    assert set(by_id) == {"contact", "sales", "access_log"}
    assert by_id["contact"]["records"][0]["fields"]["name"] == "Anna Andersson"
    assert {p["legal_basis"] for p in by_id["sales"]["purposes"]} == {"legal_obligation"}
    assert {r["id"] for r in by_id["sales"]["recipients"]} == {"visma", "paypal"}
    assert by_id["sales"]["legal_holds"][0]["id"] == "bokforing"
    assert by_id["contact"]["retention"][0]["duration"] == "3y"
    crm = data["datasets"]["crm"]
    assert [row["name"] for row in crm["customers"]] == ["Anna"]
    assert [row["body"] for row in crm["tickets"]] == ["pump broken"]
    archive = zipfile.ZipFile(io.BytesIO(access_right.to_zip(report)))
    assert {"vault/contact.csv", "datasets/crm/tickets.csv", "report.json"} <= set(
        archive.namelist()
    )
    html_sv = access_right.to_html(report, "sv")
    assert "Dina personuppgifter" in html_sv and "Integritetsskyddsmyndigheten" in html_sv
    assert "Anna Andersson" in access_right.to_html(report, "en")
    message = world.mailbox.messages[-1]
    assert rid in str(message["Subject"])
    assert "Andersson" not in message.get_body(("plain",)).get_content()


def test_erasure_reaches_the_connected_database(world: Any, tmp_path: Path) -> None:
    dataset, url = _crm(tmp_path)
    connector = SQLConnector(dataset, url, manifest=world.manifest)
    world.requests.ctx.connectors = {"crm": connector}
    try:
        rid = _verified(world, "erasure", subject=world.anna)
        world.requests.approve(rid, "dpo")
        world.requests.process(rid)
    finally:
        connector.engine.dispose()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM customers")).scalars().all() == ["Bo"]
        assert conn.execute(text("SELECT id FROM tickets")).scalars().all() == [11]
    engine.dispose()
    datasets = world.requests.receipt(rid)["body"]["datasets"]
    assert datasets["crm"]["totals"]["deleted"] == 2


def test_portability_only_what_the_person_provided(world: Any) -> None:
    memory = MemoryConnector("crm")
    memory.add("notes", 1, {"text": "x"}, identities={"email": world.identities["email"]})
    world.requests.ctx.connectors = {"crm": memory}
    rid = _verified(world, "portability", email=world.identities["email"])
    world.requests.process(rid)
    report = world.requests.report(rid)
    # sales is processed on legal_obligation, not consent/contract: not portable.
    assert {c["id"] for c in report.categories} == {"contact", "access_log"}
    assert report.datasets == {}  # no mapped dataset: nothing portable from it


def test_rectification_updates_vault_and_tells_recipients(world: Any) -> None:
    r = world.requests
    rid = _verified(
        world,
        "rectification",
        email=world.identities["email"],
        changes={"contact": {"address": "Nygatan 2"}},
    )
    assert r.process(rid) == Status.waiting_for_recipients
    (record,) = world.vault.records(r.ctx.system, "account", world.anna, "contact")
    assert record.fields["address"] == "Nygatan 2"
    assert record.fields["name"] == "Anna Andersson"
    sent = {q["recipient"]: q["payload"] for q in world.outbox.queued.values()}
    assert sent["visma"]["changes"] == {"contact": {"address": "Nygatan 2"}}
    assert sent["visma"]["type"] == "integritet.request.rectification"
    paypal = [m for m in world.mailbox.messages if m["To"] == "privacy@paypal.example"]
    assert "Nygatan 2" in paypal[0].get_body(("plain",)).get_content()
    r.confirm_recipient(rid, "paypal", "dpo", "done")
    r.confirm_recipient(rid, "installer", "dpo", "no longer installing", waive=True)
    assert r.process(rid) == Status.completed


def test_restriction_stops_processing_until_lifted(world: Any) -> None:
    r = world.requests
    rid = _verified(world, "restriction", subject=world.anna)
    with pytest.raises(Exception, match="nothing to lift"):
        r.lift_restriction(rid, "dpo")
    r.process(rid)
    with pytest.raises(SubjectRestricted):
        world.vault.records(r.ctx.system, "account", world.anna, "contact")
    for task in r.tasks(rid):
        if task.method != "webhook":
            r.confirm_recipient(rid, task.recipient_id, "dpo", "told")
    assert r.process(rid) == Status.completed
    r.lift_restriction(rid, "dpo")
    assert world.vault.records(r.ctx.system, "account", world.anna, "contact")


def test_objection_suppresses_and_tells_marketing_recipients(world: Any) -> None:
    from integritet.consent import ConsentSource, ConsentState, Evidence

    r = world.requests
    evidence = Evidence(source=ConsentSource.portal, policy_version="2024.1")
    r.ctx.consent.record(world.anna, "newsletter", "email", ConsentState.given, evidence)
    rid = _verified(world, "objection", email=world.identities["email"])
    assert r.process(rid) == Status.completed
    assert r.suppressions.is_suppressed(world.anna)
    assert r.suppressions.is_identity_suppressed("email", " ANNA@example.se")
    assert r.suppressions.is_identity_suppressed("phone", "070-123 45 67")
    assert not r.suppressions.is_identity_suppressed("email", "bo@example.se")
    assert [t.recipient_id for t in r.tasks(rid)] == ["mailchimp"]
    assert not r.ctx.consent.may_contact(world.anna, "newsletter", "email")


def test_access_for_a_restricted_person_is_answered(world: Any) -> None:
    r = world.requests
    world.vault.restrict(r.ctx.system, world.anna, "accuracy contested")
    rid = _verified(world, "access", subject=world.anna)
    assert r.process(rid) == Status.completed
    report = r.report(rid)
    by_id = {c["id"]: c for c in report.categories}
    assert by_id["contact"]["records"][0]["fields"]["name"] == "Anna Andersson"
    assert report.counts()["contact"] == 1
    with pytest.raises(SubjectRestricted):  # processing other than the request stays barred
        world.vault.records(r.ctx.system, "account", world.anna, "contact")
    assert world.vault.is_restricted(world.anna)
    exempt = [
        e
        for e in world.vault.audit.entries(subject=world.anna)
        if e.detail.get("exemption") == "art18_own_rights"
    ]
    assert exempt and {e.detail["request"] for e in exempt} == {rid}


def test_portability_for_a_restricted_person_by_email(world: Any) -> None:
    r = world.requests
    world.vault.restrict(r.ctx.system, world.anna, "objection pending")
    rid = _verified(world, "portability", email=world.identities["email"])
    assert r.process(rid) == Status.completed
    assert {c["id"] for c in r.report(rid).categories} == {"contact", "access_log"}


def test_erasure_of_a_restricted_person_completes(world: Any) -> None:
    r = world.requests
    world.vault.restrict(r.ctx.system, world.anna, "accuracy contested")
    rid = _verified(world, "erasure", subject=world.anna)
    r.approve(rid, "dpo")
    assert r.process(rid) == Status.waiting_for_recipients
    assert not world.vault.exists(world.anna)
    results = {s.name: s.result for s in r.steps(rid)}
    assert results["snapshot"]["identity_kinds"] == ["email", "phone"]
    assert {"contact", "access_log"} <= set(results["vault"]["erased"])


def test_rectification_reaches_the_connected_database(world: Any, tmp_path: Path) -> None:
    dataset, url = _crm(tmp_path)
    connector = SQLConnector(dataset, url, manifest=world.manifest)
    world.requests.ctx.connectors = {"crm": connector, "notes": MemoryConnector("notes")}
    try:
        rid = _verified(
            world,
            "rectification",
            email=world.identities["email"],
            changes={"contact": {"name": "Anna Lund"}},
        )
        world.requests.process(rid)
    finally:
        connector.engine.dispose()
    engine = create_engine(url)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM customers ORDER BY id")).scalars().all()
    engine.dispose()
    assert names == ["Anna Lund", "Bo"]
    (record,) = world.vault.records(world.requests.ctx.system, "account", world.anna, "contact")
    assert record.fields["name"] == "Anna Lund"
    result = {s.name: s.result for s in world.requests.steps(rid)}["apply"]
    assert result["datasets"]["crm"]["tables"] == [
        {"table": "customers", "columns": ["name"], "keys": ["1"]}
    ]
    assert result["datasets"]["notes"]["changed"] == 0
    assert "Lund" not in json.dumps(result)
