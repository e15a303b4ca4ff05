from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from integritet.clock import FixedClock
from integritet.consent import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.db import make_engine, upgrade
from integritet.errors import ConsentError
from integritet.manifest import Manifest

PORTAL = Evidence(ConsentSource.portal, "2024.1", text="Ja, skicka nyhetsbrev till mig")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def ledger(engine: Engine, manifest: Manifest, clock: FixedClock, **kw: object) -> ConsentLedger:
    return ConsentLedger(engine, manifest, clock=clock, **kw)  # type: ignore[arg-type]


def test_given_then_withdrawn_per_channel(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    led = ledger(engine, loggamera, clock)
    assert not led.may_contact("s1", "newsletter", "email")
    assert led.may_contact("s1", "newsletter", "email").reason == "no consent given"
    led.record("s1", "newsletter", "email", ConsentState.given, PORTAL)
    assert led.may_contact("s1", "newsletter", "email")
    assert not led.may_contact("s1", "newsletter", "sms")  # per channel (L9)
    clock.advance(timedelta(days=1))
    led.record("s1", "newsletter", "email", ConsentState.withdrawn, PORTAL)
    decision = led.may_contact("s1", "newsletter", "email")
    assert not decision and "withdrawn" in decision.reason
    states = {(c.purpose, c.channel): c.state for c in led.current("s1")}
    assert states[("newsletter", "email")] == ConsentState.withdrawn
    assert states[("status", "sms")] == ConsentState.never_asked
    history = led.history("s1")
    assert [h.state for h in history] == ["given", "withdrawn"]
    assert history[0].text_sha256 and len(history[0].text_sha256) == 64


def test_unknown_purpose_and_channel_are_clear_errors(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    led = ledger(engine, loggamera, clock)
    with pytest.raises(ConsentError, match="unknown consent purpose 'fax'"):
        led.may_contact("s1", "fax", "email")
    with pytest.raises(ConsentError, match="no channel 'post'"):
        led.record("s1", "newsletter", "post", ConsentState.given, PORTAL)


def test_restriction_and_objection_override_consent(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    restricted: set[str] = set()
    suppressed: set[str] = set()
    led = ledger(
        engine,
        loggamera,
        clock,
        is_restricted=restricted.__contains__,
        is_suppressed=suppressed.__contains__,
    )
    led.record("s1", "newsletter", "email", ConsentState.given, PORTAL)
    led.record("s1", "status", "email", ConsentState.given, PORTAL)
    suppressed.add("s1")
    assert "objected" in led.may_contact("s1", "newsletter", "email").reason
    assert led.may_contact("s1", "status", "email")  # not marketing: the objection is about ads
    restricted.add("s1")
    assert "restricted" in led.may_contact("s1", "status", "email").reason


def test_material_change_requires_fresh_consent(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    led = ledger(engine, loggamera, clock)
    led.record("s1", "newsletter", "email", ConsentState.given, PORTAL)
    clock.advance(timedelta(days=10))
    led.require_reconsent(["newsletter"], "2025.1")
    decision = led.may_contact("s1", "newsletter", "email")
    assert not decision and "2025.1" in decision.reason
    clock.advance(timedelta(minutes=5))
    led.record(
        "s1", "newsletter", "email", ConsentState.given, Evidence(ConsentSource.portal, "2025.1")
    )
    assert led.may_contact("s1", "newsletter", "email")


def test_ip_and_user_agent_are_sealed(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    seen: list[tuple[str, bytes]] = []

    def seal(subject: str, data: bytes) -> bytes:
        seen.append((subject, data))
        return b"sealed:" + bytes(reversed(data))

    led = ledger(engine, loggamera, clock, sealer=seal)
    ev = Evidence(ConsentSource.portal, "2024.1", ip="192.0.2.10", user_agent="Firefox")
    led.record("s1", "offers", "sms", ConsentState.given, ev)
    assert seen == [("s1", b"192.0.2.10\nFirefox")]
    (row,) = led.history("s1")
    assert row.sealed_evidence and b"192.0.2.10" not in row.sealed_evidence


def test_rebuild_matches_incremental_state(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    led = ledger(engine, loggamera, clock)
    led.record("s1", "offers", "sms", ConsentState.given, PORTAL)
    led.record("s2", "offers", "sms", ConsentState.withdrawn, PORTAL)
    before = led.current("s1") + led.current("s2")
    assert led.rebuild() == 2
    assert led.current("s1") + led.current("s2") == before


BASE = datetime(2025, 1, 1, tzinfo=UTC)
events = st.lists(
    st.tuples(st.integers(0, 20), st.sampled_from([ConsentState.given, ConsentState.withdrawn])),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="module")
def module_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsentLedger]:
    from integritet.manifest import load_manifest

    root = Path(__file__).resolve().parents[2]
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('consent') / 'c.db'}")
    upgrade(eng)
    manifest = load_manifest(root / "examples" / "loggamera" / "policy.yaml")
    yield ConsentLedger(eng, manifest, clock=FixedClock(BASE))
    eng.dispose()


@settings(max_examples=40, deadline=None)
@given(evs=events)
def test_latest_evidence_wins_whatever_the_arrival_order(
    module_ledger: ConsentLedger, evs: list[tuple[int, ConsentState]]
) -> None:
    """A withdrawal is never overridden by an older import, in any order of arrival."""
    led = module_ledger
    subject = f"s-{uuid.uuid4().hex}"
    for day, state in evs:
        led.record(
            subject,
            "newsletter",
            "email",
            state,
            Evidence(ConsentSource.import_, "2024.1"),
            at=BASE + timedelta(days=day),
        )
    latest = max(day for day, _ in evs)
    at_latest = {state for day, state in evs if day == latest}
    expected = ConsentState.withdrawn if ConsentState.withdrawn in at_latest else ConsentState.given
    (current,) = [
        c for c in led.current(subject) if (c.purpose, c.channel) == ("newsletter", "email")
    ]
    assert current.state == expected


def test_unsubscribe_link_withdraws_once_and_rejects_forgery(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    from integritet.consent import UnsubscribeLinks

    led = ledger(engine, loggamera, clock)
    links = UnsubscribeLinks(b"k" * 32)
    led.record("s1", "newsletter", "sms", ConsentState.given, PORTAL)
    url = links.url("https://x.example/", "s1", "newsletter", "sms")
    token = url.rsplit("/", 1)[1]
    assert url.startswith("https://x.example/unsubscribe/s1.newsletter.sms.")
    assert links.unsubscribe(led, token, "2024.1") == "newsletter"
    assert not led.may_contact("s1", "newsletter", "sms")
    links.unsubscribe(led, token, "2024.1")
    assert len(led.history("s1")) == 2  # the second click recorded nothing new
    forged = token.replace("s1.", "s2.", 1)
    with pytest.raises(ConsentError, match="not valid"):
        links.parse(forged)
    with pytest.raises(ConsentError, match="not valid"):
        UnsubscribeLinks(b"x" * 32).parse(token)


def test_csv_import_keeps_evidence_and_reports_bad_rows(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    from integritet.consent import export_rows, import_csv

    led = ledger(engine, loggamera, clock)
    emails = {"anna@example.se": "s1"}
    digest = "a" * 64
    rows = [
        {
            "email": "anna@example.se",
            "purpose": "newsletter",
            "channel": "email",
            "state": "given",
            "at": "2023-05-01T10:00:00+00:00",
            "policy_version": "2023.2",
            "text_sha256": digest,
        },
        {
            "email": "nobody@example.se",
            "purpose": "newsletter",
            "channel": "email",
            "state": "given",
        },
        {"email": "anna@example.se", "purpose": "newsletter", "channel": "email", "state": "maybe"},
        {"email": "anna@example.se", "purpose": "fax", "channel": "email", "state": "given"},
    ]
    report = import_csv(led, rows, emails.get)
    assert report.imported == 1
    assert report.errors == [
        "row 3: no subject with that email",
        "row 4: bad state or timestamp",
        "row 5: unknown consent purpose 'fax'; "
        "the manifest has: status, reports, newsletter, offers",
    ]
    (event,) = led.history("s1")
    assert event.policy_version == "2023.2" and event.text_sha256 == digest
    assert event.at.year == 2023 and event.source == "import"
    exported = list(export_rows(led, ["s1"], {"s1": "anna@example.se"}.get))
    assert exported[0]["email"] == "anna@example.se" and exported[0]["text_sha256"] == digest
