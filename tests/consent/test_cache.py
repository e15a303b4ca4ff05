"""The may_contact decision cache: any commit to the database, from anywhere, is seen at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from integritet.clock import FixedClock
from integritet.consent import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.consent.cache import DecisionCache
from integritet.db import make_engine, upgrade
from integritet.manifest import Manifest

PORTAL = Evidence(ConsentSource.portal, "2024.1", text="Ja tack")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def test_a_withdrawal_by_another_engine_is_seen_by_the_next_check(
    engine: Engine, database_url: str, loggamera: Manifest, clock: FixedClock
) -> None:
    checker = ConsentLedger(engine, loggamera, clock=clock, cache=True)
    other_engine = make_engine(database_url)  # stands for another process
    writer = ConsentLedger(other_engine, loggamera, clock=clock)
    try:
        writer.record("s1", "newsletter", "email", ConsentState.given, PORTAL)
        for _ in range(3):
            assert checker.may_contact("s1", "newsletter", "email")
        writer.record("s1", "newsletter", "email", ConsentState.withdrawn, PORTAL)
        assert not checker.may_contact("s1", "newsletter", "email")
        clock.advance(timedelta(days=1))
        writer.record("s1", "newsletter", "email", ConsentState.given, PORTAL)
        assert checker.may_contact("s1", "newsletter", "email")
        clock.advance(timedelta(days=1))
        writer.require_reconsent(["newsletter"], "2025.1")
        assert "2025.1" in checker.may_contact("s1", "newsletter", "email").reason
    finally:
        checker.close()
        other_engine.dispose()


def test_only_file_sqlite_is_cached(engine: Engine, database_url: str) -> None:
    cache: DecisionCache[str, int] = DecisionCache(engine)
    assert cache.enabled == database_url.startswith("sqlite")
    memory = make_engine("sqlite://")
    try:
        assert not DecisionCache(memory).enabled
    finally:
        memory.dispose()
    value, version = DecisionCache[str, int](memory).lookup("k")
    assert (value, version) == (None, None)


def test_a_value_computed_across_a_commit_is_not_kept(
    sqlite_url: str, loggamera: Manifest, clock: FixedClock
) -> None:
    eng = make_engine(sqlite_url)
    upgrade(eng)
    cache: DecisionCache[str, str] = DecisionCache(eng)
    try:
        assert cache.lookup("k") == (None, cache.lookup("k")[1])
        _, version = cache.lookup("k")
        ConsentLedger(eng, loggamera, clock=clock).record(
            "s1", "newsletter", "email", ConsentState.given, PORTAL
        )  # commits while "k" is being computed
        cache.lookup("other")  # the next check sees the new version
        cache.store("k", "stale", version)
        assert cache.lookup("k")[0] is None
        _, fresh = cache.lookup("k")
        cache.store("k", "fresh", fresh)
        assert cache.lookup("k")[0] == "fresh"
        cache.clear()
        assert cache.lookup("k")[0] is None
    finally:
        cache.close()
        eng.dispose()
