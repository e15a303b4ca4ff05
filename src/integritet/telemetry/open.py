"""Opening telemetry on the configured database (schema created or upgraded on first use)."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from integritet.audit import SIGNING_KEY_NAME, AuditLog
from integritet.clock import Clock, SystemClock
from integritet.db import upgrade
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.telemetry.core import Telemetry
from integritet.vault.open import Notify, vault_engine


def telemetry_engine(settings: Settings, notify: Notify | None = None) -> Engine:
    """The database of ``settings`` with the telemetry tables in place."""
    engine = vault_engine(settings, notify)
    if not inspect(engine).has_table("telemetry_readings"):
        upgrade(engine)
    return engine


def open_telemetry(
    settings: Settings,
    manifest: Manifest,
    clock: Clock | None = None,
    *,
    engine: Engine | None = None,
    notify: Notify | None = None,
) -> Telemetry:
    """Telemetry for ``manifest`` on the database (and audit log) of ``settings``."""
    clock = clock or SystemClock()
    engine = engine or telemetry_engine(settings, notify)
    audit = AuditLog(engine, settings.home / SIGNING_KEY_NAME, clock, notify=notify)
    return Telemetry(engine, manifest, audit, clock)
