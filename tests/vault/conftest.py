"""Fixtures for the vault tests: an open vault on each backend, actors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault import Vault, open_vault


@pytest.fixture
def vault_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, kek=None)


@pytest.fixture
def vault(vault_settings: Settings, loggamera: Manifest, clock: FixedClock) -> Iterator[Vault]:
    v = open_vault(vault_settings, loggamera, clock, notify=lambda _m: None)
    yield v
    v.engine.dispose()


@pytest.fixture
def system() -> Actor:
    return Actor.system("test")


@pytest.fixture
def support() -> Actor:
    return Actor.staff("anna", "support")


@pytest.fixture
def dpo() -> Actor:
    return Actor.staff("dina", "dpo")
