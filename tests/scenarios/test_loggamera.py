"""Loggamera (remote monitoring of facilities): promises L1-L12, end to end.

Seed: shared/seeds/002_e7668c511c024696.txt; manifest: examples/loggamera/policy.yaml.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from connectors.receiver import Receiver, Server
from integritet.consent import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.errors import (
    AccessDenied,
    ConsentError,
    KeyDestroyed,
    NotFound,
    RequestError,
    VaultError,
)
from integritet.requests import Status
from integritet.requests.access import to_html
from integritet.retention import run as retention_run
from scenarios.helpers import SYSTEM, Service, body, code_in

Make = Callable[[str, str | None], Service]
EMAIL = "lars.larsson@example.se"
PURPOSES = {"contact": "account", "sales": "accounting", "access_log": "account"}


def _user(svc: Service, email: str = EMAIL) -> str:
    return svc.person(
        email,
        {
            "contact": {"name": "Lars Larsson", "email": email, "phone": "+46701112233"},
            "sales": {"order": "LG-1001", "amount": 4990},
            "access_log": {"ip": "198.51.100.23", "at": "2026-01-15T09:00:00Z"},
        },
        purposes=PURPOSES,
    )


def test_L1_only_the_declared_data_is_accepted(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    sid = _user(svc)
    with pytest.raises(VaultError, match="personnummer"):
        svc.vault.put_record(
            SYSTEM, "account", sid, "contact", {"personnummer": "19800101-1234"}, "person"
        )
    with pytest.raises(VaultError, match="not declared"):
        svc.vault.put_record(SYSTEM, "account", sid, "health", {"note": "x"}, "person")
    with pytest.raises(AccessDenied, match="may not use category 'sales'"):
        svc.vault.records(SYSTEM, "account", sid, "sales")  # the account purpose needs no sales
    stored = svc.vault.records(SYSTEM, "account", sid, "contact")
    assert stored[0].fields == {"name": "Lars Larsson", "email": EMAIL, "phone": "+46701112233"}
    assert b"19800101-1234" not in svc.raw()


def test_L2_personal_data_in_free_text_is_found_and_removed(
    make_service: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = make_service("loggamera", None)
    portal = f"sqlite:///{tmp_path / 'portal.db'}"
    monkeypatch.setenv("LOGGAMERA_DB_URL", portal)
    engine = create_engine(portal)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(
            text("CREATE TABLE sites (id INTEGER PRIMARY KEY, customer_id INT, description TEXT)")
        )
        conn.execute(
            text("CREATE TABLE machines (id INTEGER PRIMARY KEY, site_id INT, notes TEXT)")
        )
        conn.execute(
            text(
                "CREATE TABLE service_tickets (id INTEGER PRIMARY KEY, customer_id INT, body TEXT)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sites VALUES (1, 1, 'Pannrum. Ring fastighetsskötaren på "
                "070-123 45 67 eller mejla kalle.karlsson@example.se')"
            )
        )
        conn.execute(text("INSERT INTO machines VALUES (1, 1, 'Värmepump, byttes 2024')"))
        conn.execute(
            text(
                "INSERT INTO service_tickets VALUES (1, 1, 'Personnummer 19800101-1231 i ärendet')"
            )
        )
    found = svc.cli("scan", "--datasets", "--format", "json")
    assert found.exit_code == 0, found.output
    assert "kalle.karlsson@example.se" not in found.stdout  # findings are reported, not echoed
    removed = svc.cli("scan", "--datasets", "--remove")
    assert removed.exit_code == 0, removed.output
    with engine.connect() as conn:
        site = conn.execute(text("SELECT description FROM sites")).scalar_one()
        machine = conn.execute(text("SELECT notes FROM machines")).scalar_one()
        ticket = conn.execute(text("SELECT body FROM service_tickets")).scalar_one()
    engine.dispose()
    assert "070-123 45 67" not in site and "kalle.karlsson@example.se" not in site
    assert site.startswith("Pannrum.")
    assert "19800101-1231" not in ticket
    assert machine == "Värmepump, byttes 2024"
    rendered = svc.cli("render", "--lang", "sv").stdout
    assert "fritext" in rendered.lower()


def test_L3_deleted_three_years_after_last_login(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    sid = _user(svc)
    login = svc.clock.now()
    svc.vault.record_event(SYSTEM, sid, "last_login", login)
    svc.vault.close()
    svc._vault = None
    day_before = (login + timedelta(days=365 * 3 - 1)).date().isoformat()
    kept = svc.cli("retention", "run", "--now", day_before, "--format", "json")
    assert kept.exit_code == 0, kept.output
    assert svc.cli("subjects", "show", "--email", EMAIL).exit_code == 0
    after = (login + timedelta(days=365 * 3 + 2)).date().isoformat()
    done = svc.cli("retention", "run", "--now", after, "--format", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["done"] >= 2
    assert svc.cli("subjects", "show", "--email", EMAIL).exit_code == 1
    raw = svc.raw()
    assert EMAIL.encode() not in raw and b"Lars Larsson" not in raw
    with pytest.raises((KeyDestroyed, NotFound)):
        svc.vault.records(SYSTEM, "account", sid, "contact")
    # the sales transaction stays under Bokföringslagen's hold (L4)
    held = svc.vault.records(SYSTEM, "accounting", sid, "sales")
    assert [r.fields["order"] for r in held] == ["LG-1001"]


def test_L4_deregistration_is_confirmed_then_all_but_sales_is_deleted(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    sid = _user(svc)
    requests = svc.requests(outbox=_NoOutbox())
    rid = requests.new("erasure", email=EMAIL)
    requests.send_code(rid)
    assert requests.confirm(rid, code_in(svc.mailbox.to(EMAIL)[-1])) == Status.verified
    with pytest.raises(RequestError, match="not confirmed"):
        requests.process(rid)
    assert svc.vault.records(SYSTEM, "account", sid, "contact")  # nothing deleted yet
    requests.send_code(rid)
    confirm_mail = svc.mailbox.to(EMAIL)[-1]
    assert requests.confirm(rid, code_in(confirm_mail)) == Status.confirmed
    requests.process(rid)
    with pytest.raises((KeyDestroyed, NotFound)):
        svc.vault.records(SYSTEM, "account", sid, "contact")
    assert svc.vault.find_subject(SYSTEM, "account", "email", EMAIL) is None
    kept = svc.vault.records(SYSTEM, "accounting", sid, "sales")
    assert [r.fields["order"] for r in kept] == ["LG-1001"]
    assert kept[0].hold_until is not None and kept[0].hold_until.year == 2026 + 7
    receipt = requests.receipt(rid)
    assert [k["category"] for k in receipt["body"]["vault"]["kept"]] == ["sales"]
    assert EMAIL.encode() not in svc.raw() and b"198.51.100.23" not in svc.raw()


def test_L5_the_person_learns_the_installers_name_before_the_booking(
    make_service: Make, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    contact = {"name": "Lars Larsson", "email": EMAIL, "phone": "+46701112233",
               "address": "Pannrumsvägen 4, Lund"}  # fmt: skip
    sid = svc.person(EMAIL, {"contact": contact}, purposes={"contact": "account"})
    # the mail server is down: the person cannot be told, so the installer gets nothing
    monkeypatch.setenv("INTEGRITET_SMTP_PORT", "9")
    down = svc.cli("disclose", "installer", "--email", EMAIL)
    assert down.exit_code == 1 and "mail delivery" in down.stderr, down.output
    assert "Pannrumsvägen" not in down.output
    monkeypatch.setenv("INTEGRITET_SMTP_PORT", str(svc.mailbox.port))
    booked = svc.cli("disclose", "installer", "--email", EMAIL, "--format", "json")
    assert booked.exit_code == 0, booked.output
    released = json.loads(booked.stdout)
    assert released["records"] == [{"category": "contact", "fields": contact}]
    [notice] = svc.mailbox.to(EMAIL)
    assert "Installatören" in str(notice["Subject"])
    text = body(notice)
    assert "lämnar nu namn och kontaktuppgifter till Installatören" in text
    assert "is now sharing name and contact details with Installatören" in text
    # the audit chain orders it: refused, then notice sent, then the data read, then shared
    steps = [(e.action, e.outcome, e.purpose) for e in svc.vault.audit.entries(subject=sid)]
    order = [steps.index(s) for s in (("disclosure.share", "denied", "installation"),
             ("disclosure.notice", "done", "installation"),
             ("vault.read", "allowed", "installation"),
             ("disclosure.share", "done", "installation"))]  # fmt: skip
    assert order == sorted(order)
    listed = svc.cli("disclosures", "--email", EMAIL)
    assert "Installatören (installer): contact for installation" in listed.stdout
    assert "Installatören" in svc.cli("render", "--lang", "sv").stdout
    # and the person's access report says who received their data
    requests = svc.requests()
    rid = requests.new("access", email=EMAIL)
    requests.verify(rid, "support", "called back on the number on file")
    requests.process(rid)
    report = requests.report(rid)
    told = report.as_dict()["disclosures"]
    assert [(d["recipient"], d["categories"]) for d in told] == [("Installatören", ["contact"])]
    page = to_html(report, "sv")
    assert "Vi har lämnat dina uppgifter till" in page and "Installatören" in page


class _NoOutbox:
    """An outbox that delivers nothing (L4 is about the vault; L6 uses a real receiver)."""

    def enqueue(self, recipient_id: str, url: str, secret: str, payload: Any, key: str) -> str:
        return key

    def deliver_due(self) -> int:
        return 0

    def is_confirmed(self, delivery_id: str) -> bool:
        return False


def test_L6_processors_are_told_to_delete_too(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    receivers = {rid: Receiver(secret=f"{rid}-secret") for rid in ("visma", "mailchimp")}
    servers = {rid: Server(r) for rid, r in receivers.items()}
    try:
        svc.manifest = svc.manifest.model_copy(
            update={
                "recipients": [
                    r.model_copy(
                        update={
                            "erasure": r.erasure.model_copy(update={"url": receivers[r.id].url})
                        }
                    )
                    if r.id in receivers
                    else r
                    for r in svc.manifest.recipients
                ]
            }
        )
        _user(svc)
        requests = svc.requests()
        rid = requests.new("erasure", email=EMAIL)
        requests.verify(rid, "support", "called back on the number on file")
        requests.approve(rid, "support")
        assert requests.process(rid) == Status.waiting_for_recipients
        for name, receiver in receivers.items():
            posts = receiver.posts()
            assert posts and all(p.signed for p in posts), name
            payload = json.loads(posts[0].body)
            assert EMAIL in json.dumps(payload) or payload.get("identities"), name
        paypal = svc.mailbox.to("privacy@paypal.example")
        assert len(paypal) == 1
        assert rid in body(paypal[0]) and "contact, sales" in body(paypal[0])
        requests.confirm_recipient(rid, "installer", "dpo", "installer confirmed by phone")
        requests.confirm_recipient(rid, "paypal", "dpo", "PayPal confirmed by email")
        assert requests.process(rid) == Status.completed
    finally:
        for server in servers.values():
            server.close()


def test_L8_log_files_follow_the_same_three_years(make_service: Make, tmp_path: Path) -> None:
    svc = make_service("loggamera", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    old = '198.51.100.1 - - [10/Jan/2023:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla"'
    new = '198.51.100.2 - - [10/Jan/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla"'
    (logs / "access.log").write_text(f"{old}\n{new}\n", encoding="utf-8")
    with gzip.open(logs / "access.log.1.gz", "wt", encoding="utf-8") as fh:
        fh.write(f"{old}\n")
    manifest = svc.manifest.model_copy(
        update={
            "log_sources": [
                svc.manifest.log_sources[0].model_copy(update={"path": str(logs / "access.log*")})
            ]
        }
    )
    assert svc.manifest.log_sources[0].retention == svc.manifest.rules_for("access_log")[0].duration
    report = retention_run(manifest, svc.vault, svc.clock)
    assert report.logs[0].total("removed") == 2
    assert (logs / "access.log").read_text(encoding="utf-8") == f"{new}\n"
    rotated = logs / "access.log.1.gz"
    if rotated.exists():  # a rotated file with nothing left may be removed altogether
        with gzip.open(rotated, "rt", encoding="utf-8") as fh:
            assert "198.51.100.1" not in fh.read()
    rendered = svc.cli("render", "--lang", "en").stdout
    assert "City Networks" in rendered and "Sweden" in rendered


def test_L9_messages_per_category_and_channel_by_permission(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    sid = _user(svc)
    ledger = ConsentLedger(svc.vault.engine, svc.manifest, clock=svc.clock)
    portal = Evidence(ConsentSource.portal, svc.manifest.policy.version)
    ledger.record(sid, "reports", "email", ConsentState.given, portal)
    ledger.record(sid, "newsletter", "email", ConsentState.given, portal)
    ledger.record(sid, "newsletter", "email", ConsentState.withdrawn, portal)
    with pytest.raises(ConsentError):
        ledger.record(sid, "status", "post", ConsentState.given, portal)  # not offered
    given = svc.cli("consent", "set", "status", "sms", "given", "--email", EMAIL,
                    "--source", "portal")  # fmt: skip
    assert given.exit_code == 0, given.output
    assert svc.cli("consent", "check", "status", "sms", "--email", EMAIL).exit_code == 0
    assert svc.cli("consent", "check", "status", "email", "--email", EMAIL).exit_code == 1
    assert ledger.may_contact(sid, "status", "sms")
    assert ledger.may_contact(sid, "reports", "email")
    assert not ledger.may_contact(sid, "reports", "sms")
    assert not ledger.may_contact(sid, "newsletter", "email")
    assert not ledger.may_contact(sid, "offers", "phone")
    rendered = svc.cli("render", "--lang", "sv").stdout
    assert "inställningssidan" in rendered


def test_L10_cookies_only_keep_the_login_and_settings(make_service: Make, tmp_path: Path) -> None:
    svc = make_service("loggamera", None)
    en = svc.cli("render", "--lang", "en").stdout
    cookies = en.split("## Cookies", 1)[1].split("##")[0]
    assert "**session** (strictly necessary): keeps you signed in" in cookies
    assert "**settings** (preferences): stores your own settings" in cookies
    assert cookies.count("The cookie is anonymous and contains no personal data.") == 2
    assert "We use no cookies for statistics or marketing." in cookies
    assert [(c.name, c.kind.value, c.personal_data) for c in svc.manifest.cookies] == [
        ("session", "strictly_necessary", False),
        ("settings", "preferences", False),
    ]

    def add_tracker(data: dict[str, Any]) -> None:
        data["cookies"].append(
            {"name": "_ga", "kind": "analytics", "personal_data": True, "duration": "2y",
             "purpose": {"sv": "Statistik", "en": "Statistics"}}
        )  # fmt: skip

    changed = svc.with_changes(tmp_path, add_tracker)
    diff = svc.cli("diff", str(svc.policy), str(changed))
    assert diff.exit_code == 0 and "MATERIAL" in diff.output and "_ga" in diff.output


def test_L11_incorrect_data_is_corrected_on_request(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    sid = _user(svc)
    svc.vault.close()
    svc._vault = None
    new = svc.cli("request", "new", "rectification", "--email", EMAIL,
                  "--set", "contact.phone=+46709998877", "--format", "json")  # fmt: skip
    assert new.exit_code == 0, new.output
    rid = json.loads(new.stdout)["id"]
    assert svc.cli("request", "verify", rid, "--staff-note", "checked by phone").exit_code == 0
    processed = svc.cli("request", "process", rid)
    assert processed.exit_code == 0, processed.output
    shown = svc.cli("request", "show", rid, "--format", "json")
    shown_data = json.loads(shown.stdout)
    # the correction is done; recipients that hold the data are told of it too (Art. 19)
    assert shown_data["status"] in {"completed", "waiting_for_recipients"}
    assert "visma" in {r["recipient"] for r in shown_data["recipients"]}
    contact = svc.vault.records(SYSTEM, "account", sid, "contact")[0].fields
    assert contact["phone"] == "+46709998877" and contact["name"] == "Lars Larsson"
    assert svc.vault.find_subject(SYSTEM, "account", "phone", "070-999 88 77") == sid
    assert svc.vault.find_subject(SYSTEM, "account", "phone", "+46701112233") is None


def test_L12_changes_are_published_on_the_page(
    make_service: Make, migrated_database_url: str
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    assert svc.cli("policy", "publish").exit_code == 0

    def bump(data: dict[str, Any]) -> None:
        data["policy"]["version"] = "2024.2"
        data["policy"]["effective"] = "2024-06-01"
        data["policy"]["changes"].append(
            {"version": "2024.2", "date": "2024-06-01", "material": False,
             "summary": {"sv": "Nytt telefonnummer till kundtjänst.",
                         "en": "New phone number for support."}}
        )  # fmt: skip
        data["controller"]["phone"] = "040-123 45 67"

    newer = svc.with_changes(Path(svc.settings.home).parent, bump)
    published = svc.cli("policy", "publish", "--policy", str(newer))
    assert published.exit_code == 0, published.output
    assert "2024.2" in published.stdout
    versions = json.loads(svc.cli("policy", "versions", "--format", "json").stdout)
    assert [v["version"] for v in versions] == ["2024.1", "2024.2"]
    page = svc.cli("render", str(newer), "--lang", "sv").stdout
    assert "Nytt telefonnummer till kundtjänst." in page and "2024.2" in page


def test_L7_no_other_sharing_without_consent(
    make_service: Make, migrated_database_url: str, tmp_path: Path
) -> None:
    svc = make_service("loggamera", migrated_database_url)
    _user(svc)
    svc.vault.close()
    svc._vault = None
    # Mailchimp gets the address only with newsletter consent: without it the gate says no.
    refused = svc.cli("disclose", "mailchimp", "--email", EMAIL)
    assert refused.exit_code == 3 and "'newsletter' consent" in refused.stderr
    assert svc.cli("consent", "check", "newsletter", "email", "--email", EMAIL).exit_code == 1
    given = svc.cli("consent", "set", "newsletter", "email", "given", "--email", EMAIL,
                    "--source", "portal", "--text", "Ja, skicka nyhetsbrevet")  # fmt: skip
    assert given.exit_code == 0, given.output
    assert svc.cli("consent", "check", "newsletter", "email", "--email", EMAIL).exit_code == 0
    shared = svc.cli("disclose", "mailchimp", "--email", EMAIL, "--format", "json")
    assert shared.exit_code == 0, shared.output
    assert json.loads(shared.stdout)["records"][0]["fields"]["email"] == EMAIL
    # nothing beyond what the manifest declares, consent or not
    more = svc.cli("disclose", "mailchimp", "--email", EMAIL, "-c", "access_log")
    assert more.exit_code == 3 and "not declared to receive 'access_log'" in more.stderr
    stranger = svc.cli("disclose", "adnetwork", "--email", EMAIL)
    assert stranger.exit_code == 1 and "no recipient with id 'adnetwork'" in stranger.stderr
    withdrawn = svc.cli("consent", "set", "newsletter", "email", "withdrawn", "--email", EMAIL,
                        "--source", "portal")  # fmt: skip
    assert withdrawn.exit_code == 0, withdrawn.output
    assert svc.cli("disclose", "mailchimp", "--email", EMAIL).exit_code == 3
    listed = svc.cli("disclosures", "--email", EMAIL, "--format", "json")
    assert [d["recipient"] for d in json.loads(listed.stdout)] == ["mailchimp"]

    def share_more(data: dict[str, Any]) -> None:
        data["recipients"].append(
            {"id": "adnetwork", "name": "Ad Network", "role": "independent_controller",
             "categories": ["access_log"], "purposes": ["messages"],
             "erasure": {"method": "manual"}}
        )  # fmt: skip

    refused = svc.cli("check", str(svc.with_changes(tmp_path, share_more)))
    assert refused.exit_code == 1
    assert "recipient-unjustified" in refused.output and "adnetwork" in refused.output
