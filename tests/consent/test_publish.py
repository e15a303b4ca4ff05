from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from integritet.clock import FixedClock
from integritet.consent import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.consent.publish import PolicyPublisher
from integritet.db import make_engine, upgrade
from integritet.errors import ConsentError
from integritet.manifest import Manifest
from integritet.manifest.model import Purpose, Text


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def bumped(m: Manifest, version: str, **changes: object) -> Manifest:
    policy = m.policy.model_copy(update={"version": version})
    return m.model_copy(update={"policy": policy, **changes})


def with_new_purpose(m: Manifest, version: str) -> Manifest:
    extra = Purpose(
        id="profiling",
        name=Text(sv="Analys av användning", en="Usage analysis"),
        legal_basis="legitimate_interests",  # type: ignore[arg-type]
        legitimate_interest=Text(sv="Förbättra tjänsten", en="Improve the service"),
        categories=["contact"],
    )
    return bumped(m, version, purposes=[*m.purposes, extra])


class Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, subject: str, version: str) -> str:
        self.calls.append((subject, version))
        return f"<{subject}@{version}>"


def test_first_publish_then_idempotent_then_conflict(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    pub = PolicyPublisher(engine, ConsentLedger(engine, loggamera, clock=clock), clock)
    first = pub.publish(loggamera, lambda cats, cps: ["s1"])
    assert not first.material and not first.already_published and first.notices_queued == 0
    again = pub.publish(loggamera, lambda cats, cps: ["s1"])
    assert again.already_published
    changed = loggamera.model_copy(
        update={"controller": loggamera.controller.model_copy(update={"email": "x@y.se"})}
    )
    with pytest.raises(ConsentError, match=r"raise policy\.version"):
        pub.publish(changed, lambda cats, cps: [])
    stored = pub.latest()
    assert stored is not None and "<html" in stored.html_sv and 'lang="sv"' in stored.html_sv


def test_non_material_change_is_published_without_notices(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    pub = PolicyPublisher(engine, ConsentLedger(engine, loggamera, clock=clock), clock)
    pub.publish(loggamera, lambda cats, cps: ["s1"])
    clock.advance(timedelta(days=30))
    contact = loggamera.controller.model_copy(update={"phone": "040-123 45 67"})
    result = pub.publish(bumped(loggamera, "2024.2", controller=contact), lambda cats, cps: ["s1"])
    assert not result.material and result.notices_queued == 0  # L12: published with its date
    assert [v.version for v in pub.versions()] == [loggamera.policy.version, "2024.2"]
    assert pub.version_in_force(clock.now() - timedelta(days=1)).version == loggamera.policy.version  # type: ignore[union-attr]


def test_material_change_requires_reconsent_and_notifies_once_across_a_crash(
    engine: Engine, loggamera: Manifest, clock: FixedClock
) -> None:
    ledger = ConsentLedger(engine, loggamera, clock=clock)
    pub = PolicyPublisher(engine, ledger, clock)
    pub.publish(loggamera, lambda cats, cps: [])
    ledger.record(
        "s1", "newsletter", "email", ConsentState.given, Evidence(ConsentSource.portal, "2024.1")
    )
    clock.advance(timedelta(days=5))
    newer = bumped(loggamera, "2025.1")
    newer = newer.model_copy(
        update={
            "recipients": [
                r.model_copy(update={"categories": [*r.categories, "access_log"]})
                if r.id == "mailchimp"
                else r
                for r in newer.recipients
            ]
        }
    )
    result = pub.publish(newer, lambda cats, cps: ["s1", "s2", "s3"])
    assert result.material and result.notices_queued == 3
    assert "newsletter" in result.reconsent_purposes
    decision = ledger.may_contact("s1", "newsletter", "email")
    assert not decision and "2025.1" in decision.reason  # C7

    sent = Sent()

    def crashing(subject: str, version: str) -> str:
        if len(sent.calls) == 1:
            sent.calls.append((subject, version))
            raise KeyboardInterrupt  # the process dies mid-conversation
        return sent(subject, version)

    with pytest.raises(KeyboardInterrupt):
        pub.send_notices(crashing)
    run = pub.send_notices(sent)
    assert run.uncertain == 1 and run.sent == 1
    subjects = [s for s, _ in sent.calls]
    assert len(subjects) == len(set(subjects)) == 3  # nobody got a second email
    assert pub.notice_counts("2025.1") == {"sent": 2, "sending": 1}
