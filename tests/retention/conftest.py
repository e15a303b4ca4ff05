"""Fixtures for the retention tests: an open vault on each backend and a helper to fill it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault import Vault, open_vault

APP = Actor.system("app")


@pytest.fixture
def retention_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, kek=None)


def opened(settings: Settings, manifest: Manifest, clock: FixedClock) -> Vault:
    return open_vault(settings, manifest, clock, notify=lambda _m: None)


@pytest.fixture
def vault(retention_settings: Settings, loggamera: Manifest, clock: FixedClock) -> Iterator[Vault]:
    v = opened(retention_settings, loggamera, clock)
    yield v
    v.engine.dispose()


def person(
    vault: Vault,
    email: str,
    *,
    categories: tuple[str, ...] = ("contact", "access_log", "sales"),
    last_login: datetime | None = None,
) -> str:
    """A Loggamera user with one record per category and (optionally) a last login."""
    sid = vault.create_subject(APP, "account", {"email": email})
    fields = {
        "contact": {"name": "Test Person", "email": email},
        "access_log": {"ip": "192.0.2.7", "at": "2026-01-15T09:00:00Z"},
        "sales": {"order": "A-1", "amount": 990},
    }
    purposes = {"contact": "account", "access_log": "account", "sales": "accounting"}
    for category in categories:
        vault.put_record(APP, purposes[category], sid, category, fields[category], "person")
    if last_login is not None:
        vault.record_event(APP, sid, "last_login", last_login)
    return sid
