"""Fixtures: a CoffeeCloud database with two customers, a site each, and three machines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.manifest import Manifest, load_manifest
from integritet.settings import Settings
from integritet.telemetry import Telemetry, open_telemetry
from integritet.vault import Vault, open_vault

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ADMIN = Actor.system("setup")


def coffeecloud_manifest() -> Manifest:
    """CoffeeCloud, with sales allowed to read telemetry (C4: service or sales)."""
    manifest = load_manifest(EXAMPLES / "coffeecloud" / "policy.yaml")
    roles = [
        r.model_copy(update={"can": [*r.can, "read_telemetry"]})
        if r.id == "sales" and "read_telemetry" not in r.can
        else r
        for r in manifest.roles
    ]
    return manifest.model_copy(update={"roles": roles})


@pytest.fixture
def coffeecloud() -> Manifest:
    return coffeecloud_manifest()


@pytest.fixture
def settings(tmp_path: Path, migrated_database_url: str) -> Settings:
    """A fresh database on each backend (SQLite and PostgreSQL), already migrated."""
    return Settings(home=tmp_path / "home", database_url=migrated_database_url)


@dataclass
class Fleet:
    vault: Vault
    telemetry: Telemetry
    acme: str  # customer ids
    beta: str
    site: str


@pytest.fixture
def fleet(settings: Settings, coffeecloud: Manifest, clock: FixedClock) -> Iterator[Fleet]:
    settings.home.mkdir(parents=True, exist_ok=True)
    vault = open_vault(settings, coffeecloud, clock, notify=lambda _m: None)
    telemetry = open_telemetry(settings, coffeecloud, clock, engine=vault.engine)
    acme = vault.create_customer(ADMIN, "Acme Kaffe AB")
    beta = vault.create_customer(ADMIN, "Beta Café AB")
    site = telemetry.add_site(ADMIN, acme, "Kontoret Solna")
    telemetry.add_machine(ADMIN, "cm-1", acme, site=site, model="TopBrewer", serial="SN100")
    telemetry.add_machine(ADMIN, "cm-2", acme, site=site)
    beta_site = telemetry.add_site(ADMIN, beta, "Café Göteborg")
    telemetry.add_machine(ADMIN, "cm-9", beta, site=beta_site)
    try:
        yield Fleet(vault, telemetry, acme, beta, site)
    finally:
        vault.close()
