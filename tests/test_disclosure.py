"""The sharing gate (integritet.disclosure) on the Loggamera manifest, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.consent import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.disclosure import DisclosureRow, Disclosures
from integritet.errors import AccessDenied, ConnectorError, DisclosureRefused, KeyDestroyed
from integritet.manifest import Manifest
from integritet.manifest.model import Recipient, RecipientErasure, RecipientRole
from integritet.manifest.types import ErasureMethod
from integritet.settings import Settings
from integritet.vault import Vault, open_vault

EMAIL = "lars.larsson@example.se"
APP = Actor.system("app")
SUPPORT = Actor.staff("stina", "support")
CONTACT = {"name": "Lars Larsson", "email": EMAIL, "phone": "+46701112233",
           "address": "Storgatan 1, Malmö"}  # fmt: skip


@dataclass
class RecordingMailer:
    """Keeps each message and what the vault had released when it was sent."""

    vault: Vault
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    reads_when_sent: list[int] = field(default_factory=list)
    fail: bool = False

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        *,
        unsubscribe_url: str | None = None,
    ) -> str:
        if self.fail:
            raise ConnectorError("mail delivery via test failed (OSError)")
        reads = [e for e in self.vault.audit.entries() if e.action == "vault.read"]
        self.reads_when_sent.append(len(reads))
        self.sent.append((to, subject, text))
        return f"<{len(self.sent)}@test>"


@dataclass
class Env:
    vault: Vault
    consent: ConsentLedger
    mailer: RecordingMailer
    gate: Disclosures
    sid: str

    def with_recipients(self, *extra: Recipient) -> Disclosures:
        manifest = self.gate.manifest
        changed = manifest.model_copy(update={"recipients": [*manifest.recipients, *extra]})
        return Disclosures(self.vault, changed, consent=self.consent, mailer=self.mailer)


@pytest.fixture
def env(
    migrated_database_url: str, tmp_path: Path, clock: FixedClock, loggamera: Manifest
) -> Iterator[Env]:
    settings = Settings(home=tmp_path / "home", database_url=migrated_database_url)
    vault = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    try:
        sid = vault.create_subject(APP, "account", {"email": EMAIL})
        vault.put_record(APP, "account", sid, "contact", CONTACT, "person")
        vault.put_record(APP, "accounting", sid, "sales", {"order": "LG-1", "amount": 1}, "person")
        consent = ConsentLedger(vault.engine, loggamera, clock=clock)
        mailer = RecordingMailer(vault)
        gate = Disclosures(vault, loggamera, consent=consent, mailer=mailer, clock=clock)
        yield Env(vault, consent, mailer, gate, sid)
    finally:
        vault.close()


def _actions(vault: Vault, sid: str) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in vault.audit.entries(subject=sid)]


def test_installer_is_named_to_the_person_before_any_data_is_released(env: Env) -> None:
    done = env.gate.disclose(SUPPORT, "installation", env.sid, "installer")
    assert [(r.category, r.fields) for r in done.records] == [("contact", CONTACT)]
    assert done.notified_at is not None and not done.legal
    [(to, subject, text)] = env.mailer.sent
    assert to == EMAIL and "Installatören" in subject
    assert "lämnar nu namn och kontaktuppgifter till Installatören" in text
    assert "sharing name and contact details with Installatören" in text
    assert env.mailer.reads_when_sent == [0]  # nothing was read when the notice went out
    actions = [a for a, _ in _actions(env.vault, env.sid)]
    assert actions.index("disclosure.notice") < actions.index("disclosure.share")
    read = max(i for i, a in enumerate(actions) if a == "vault.read")
    assert actions.index("disclosure.notice") < read < actions.index("disclosure.share")


def test_when_the_notice_cannot_be_sent_nothing_is_shared(env: Env) -> None:
    env.mailer.fail = True
    with pytest.raises(ConnectorError):
        env.gate.disclose(SUPPORT, "installation", env.sid, "installer")
    assert env.gate.received_by(env.sid) == []
    assert ("vault.read", "allowed") not in _actions(env.vault, env.sid)
    assert ("disclosure.share", "denied") in _actions(env.vault, env.sid)


def test_a_consent_recipient_gets_nothing_without_that_consent(env: Env) -> None:
    with pytest.raises(DisclosureRefused, match="'newsletter' consent"):
        env.gate.disclose(APP, "messages", env.sid, "mailchimp")
    env.consent.record(env.sid, "newsletter", "email", ConsentState.given,
                       Evidence(ConsentSource.portal, "2024.1"))  # fmt: skip
    done = env.gate.disclose(APP, "messages", env.sid, "mailchimp")
    assert done.records[0].fields["email"] == EMAIL and done.notified_at is None
    assert env.mailer.sent == []


def test_undeclared_categories_and_purposes_are_refused_and_audited(env: Env) -> None:
    with pytest.raises(DisclosureRefused, match="not declared to receive 'sales'"):
        env.gate.disclose(APP, "installation", env.sid, "installer", ["contact", "sales"])
    with pytest.raises(DisclosureRefused, match="does not receive data for purpose 'account'"):
        env.gate.disclose(APP, "account", env.sid, "installer")
    with pytest.raises(AccessDenied, match="no role"):
        env.gate.disclose(Actor.staff("x", "nobody"), "installation", env.sid, "installer")
    denied = [e for e in env.vault.audit.entries(subject=env.sid) if e.outcome == "denied"]
    assert len(denied) == 3 and all(e.detail["recipient"] == "installer" for e in denied)
    assert EMAIL not in json.dumps([e.detail for e in env.vault.audit.entries()])
    assert env.mailer.sent == [] and env.gate.received_by(env.sid) == []


def test_financial_data_never_goes_where_the_manifest_says_no(env: Env) -> None:
    def authority(rid: str, **kw: Any) -> Recipient:
        return Recipient(id=rid, name=rid.title(), role=RecipientRole.authority,
                         categories=["sales"], purposes=["accounting"], **kw)  # fmt: skip

    crm = Recipient(id="crm", name="CRM", role=RecipientRole.processor, categories=["sales"],
                    purposes=["accounting"], financial_data=False,
                    erasure=RecipientErasure(method=ErasureMethod.manual))  # fmt: skip
    gate = env.with_recipients(
        authority("inspector", required_by_law=True, financial_data=False),
        authority("curious"),
        authority("tax", required_by_law=True),
        crm,
    )
    basis = "Skatteförfarandelagen 37 kap."
    for rid in ("inspector", "curious", "crm"):
        with pytest.raises(
            DisclosureRefused, match=f"financial category 'sales' never goes to '{rid}'"
        ):
            gate.disclose(APP, "accounting", env.sid, rid, legal_basis_note=basis)
    tax = gate.disclose(APP, "accounting", env.sid, "tax", legal_basis_note=basis)
    assert tax.legal and tax.records[0].fields == {"order": "LG-1", "amount": 1}
    visma = gate.disclose(APP, "accounting", env.sid, "visma", ["sales"])
    assert visma.records[0].fields == {"order": "LG-1", "amount": 1} and not visma.legal
    assert sorted(d.recipient for d in gate.received_by(env.sid)) == ["tax", "visma"]


def test_a_legal_disclosure_needs_a_basis_and_is_recorded_as_such(env: Env) -> None:
    police = Recipient(
        id="police",
        name="Polismyndigheten",
        role=RecipientRole.authority,
        categories=["contact"],
        purposes=["account"],
        required_by_law=True,
    )
    gate = env.with_recipients(police)
    with pytest.raises(DisclosureRefused, match="only where the law requires"):
        gate.disclose(APP, "account", env.sid, "police")
    note = "Beslut om editionsföreläggande, mål T 1234-26"
    done = gate.disclose(APP, "account", env.sid, "police", legal_basis_note=note)
    assert done.legal and done.records[0].fields["name"] == "Lars Larsson"
    assert gate.note(done.id) == note
    events = [e for e in env.vault.audit.entries(subject=env.sid) if e.action == "disclosure.legal"]
    assert events[0].detail["recipient"] == "police" and "T 1234" not in json.dumps(
        events[0].detail
    )
    with env.vault.tx() as s:
        sealed = s.scalar(select(DisclosureRow.note_sealed))
    assert sealed is not None and b"T 1234-26" not in sealed
    listed = gate.received_by(env.sid)
    assert [(d.recipient, d.legal, d.categories) for d in listed] == [
        ("police", True, ("contact",))
    ]
    env.vault.erase(APP, "account", env.sid)
    with pytest.raises(KeyDestroyed):  # the note went with the person; the fact stays
        gate.note(done.id)
    assert [d.recipient for d in gate.received_by(env.sid)] == ["police"]


def test_a_restricted_person_is_not_shared(env: Env) -> None:
    env.vault.restrict(APP, env.sid, "accuracy contested")
    with pytest.raises(AccessDenied, match="restricted"):
        env.gate.disclose(APP, "installation", env.sid, "installer")
    assert env.mailer.sent == []


def test_cli_disclose_and_list(
    run_cli: Callable[..., Any],
    home: Path,
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    smtp_server: Any,
    clock: FixedClock,
    loggamera: Manifest,
) -> None:
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", migrated_database_url)
    policy = str(Path(__file__).parent.parent / "examples" / "loggamera" / "policy.yaml")
    settings = Settings(home=home, database_url=migrated_database_url)
    vault = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    sid = vault.create_subject(APP, "account", {"email": EMAIL})
    vault.put_record(APP, "account", sid, "contact", CONTACT, "person")
    vault.close()
    shared = run_cli("disclose", "installer", "--email", EMAIL, "-p", policy, "--format", "json")
    assert shared.exit_code == 0, shared.output
    data = json.loads(shared.stdout)
    assert data["recipient_name"] == "Installatören" and data["notified_at"]
    assert data["records"][0]["fields"]["address"] == "Storgatan 1, Malmö"
    assert [m["To"] for m in smtp_server.messages] == [EMAIL]
    refused = run_cli("disclose", "mailchimp", "--email", EMAIL, "-p", policy)
    assert refused.exit_code == 3 and "'newsletter' consent" in refused.stderr
    assert "Traceback" not in refused.output and EMAIL not in refused.output
    listed = run_cli("disclosures", "--email", EMAIL, "-p", policy)
    assert listed.exit_code == 0 and "Installatören (installer): contact for installation" in (
        listed.stdout
    )
