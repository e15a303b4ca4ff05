"""Opening the vault: database, schema, keys, audit log, ledger — created on first use.

In a fresh home the first call creates the SQLite database (running the migrations) and
the key file (mode 0600) and says so through ``notify`` (default: a line on stderr).
When the database already holds encrypted keys but no KEK is available (key file gone,
``INTEGRITET_KEK`` unset), it refuses with :class:`~integritet.errors.KeyUnavailable`
rather than making a new key that could never open the existing data.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from integritet.audit import SIGNING_KEY_NAME, AuditLog
from integritet.clock import Clock, SystemClock
from integritet.db import make_engine, upgrade
from integritet.errors import KeyUnavailable
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault.erasure import LEDGER_NAME
from integritet.vault.keys import KeyRing, create_key_file, load_keyring
from integritet.vault.store import Vault
from integritet.vault.tables import KeyRow

Notify = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def vault_engine(settings: Settings, notify: Notify | None = None) -> Engine:
    """The engine for ``settings``, with the schema created when it is missing."""
    notify = notify or _stderr
    url = settings.resolved_database_url
    if url.startswith("sqlite") and settings.database_url is None:
        settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    if not inspect(engine).has_table("vault_keys"):
        upgrade(engine)
        notify(f"created the database schema in {engine.url.render_as_string(hide_password=True)}")
    return engine


def keyring_for(settings: Settings, engine: Engine, notify: Notify | None = None) -> KeyRing:
    """The KEKs; a new key file when there are none and the vault holds no data yet."""
    ring = load_keyring(settings)
    if ring is not None:
        return ring
    with Session(engine) as session:
        has_data = session.scalar(select(KeyRow.id).limit(1)) is not None
    if has_data:
        raise KeyUnavailable(
            f"the database holds encrypted data but the key file {settings.key_file} is missing "
            "and INTEGRITET_KEK is not set; restore the key file or set INTEGRITET_KEK"
        )
    ring = create_key_file(settings.key_file)
    (notify or _stderr)(f"created the key file {settings.key_file} (mode 0600): back it up")
    return ring


def open_vault(
    settings: Settings,
    manifest: Manifest,
    clock: Clock | None = None,
    *,
    notify: Notify | None = None,
    engine: Engine | None = None,
) -> Vault:
    """Open (and on first use create) the vault described by ``settings``."""
    clock = clock or SystemClock()
    owned = engine is None
    engine = engine or vault_engine(settings, notify)
    try:
        ring = keyring_for(settings, engine, notify)
        audit = AuditLog(engine, settings.home / SIGNING_KEY_NAME, clock, notify=notify)
        vault = Vault(engine, manifest, ring, audit, clock, settings.home / LEDGER_NAME)
        vault.index_key()  # fails fast with KeyUnavailable when the KEK is wrong
    except BaseException:
        if owned:
            engine.dispose()
        raise
    return vault
