"""KEK rotation covers every secret sealed under the KEK: vault keys and staff TOTP secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from integritet.access import Actor
from integritet.cli import app
from integritet.clock import FixedClock
from integritet.db import Base, import_models
from integritet.errors import AccessDenied, KeyUnavailable
from integritet.identity import IdentityStore, Login
from integritet.identity.tables import UserRow
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault import Vault, faults, open_vault
from integritet.vault.keys import read_key_file
from integritet.vault.rotation import pending, rotate, sealed_columns

PASSWORD = "a long and unusual passphrase"
STAFF = ("dpo", "support", "tech")
POLICY = str(Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml")


def _login(vault: Vault, manifest: Manifest, clock: FixedClock) -> Login:
    store = IdentityStore(vault.engine, manifest, clock, vault.keyring)
    store.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # fast tests
    return Login(store)


def _enrol(vault: Vault, manifest: Manifest, clock: FixedClock) -> dict[str, str]:
    """Staff users with a password and TOTP; returns each one's TOTP secret."""
    login = _login(vault, manifest, clock)
    secrets: dict[str, str] = {}
    for user, role in zip(STAFF, ("dpo", "support", "technician"), strict=True):
        login.store.add_user(user, role)
        login.set_password(user, PASSWORD)
        secrets[user] = pyotp.parse_uri(login.enrol_totp(user)).secret
    login.store.close()
    return secrets


def _fill(vault: Vault, n: int) -> list[str]:
    system = Actor.system("test")
    ids = []
    for i in range(n):
        sid = vault.create_subject(system, "account", {"email": f"r{i}@example.se"})
        vault.put_record(system, "account", sid, "contact", {"name": f"R{i}"}, "person")
        ids.append(sid)
    return ids


def _all_readable(
    settings: Settings,
    manifest: Manifest,
    clock: FixedClock,
    secrets: dict[str, str],
    ids: list[str],
) -> None:
    """With the KEKs in the key file now: every record opens and every staff user signs in."""
    vault = open_vault(settings, manifest, clock, notify=lambda _m: None)
    system = Actor.system("check")
    for i, sid in enumerate(ids):
        assert [r.fields for r in vault.records(system, "account", sid)] == [{"name": f"R{i}"}]
    login = _login(vault, manifest, clock)
    for user, secret in secrets.items():
        with Session(vault.engine) as s:
            row = s.get(UserRow, user)
            assert row is not None
            totp = login.totp(row)
        assert totp is not None and totp.secret == secret  # the same secret, not a new one
        code = pyotp.TOTP(secret).at(clock.now())
        token, signed_in = login.password(user, PASSWORD, code)
        assert token and signed_in.actor.id == user
    login.store.close()
    vault.engine.dispose()


def _totp_keks(vault: Vault) -> set[str | None]:
    with Session(vault.engine) as s:
        return set(s.scalars(select(UserRow.totp_kek).where(UserRow.username.in_(STAFF))))


def test_rotation_rewraps_totp_secrets_and_sign_in_still_works(
    vault: Vault, vault_settings: Settings, loggamera: Manifest, clock: FixedClock
) -> None:
    secrets = _enrol(vault, loggamera, clock)
    ids = _fill(vault, 2)
    old = vault.keyring.current
    assert _totp_keks(vault) == {old}
    result = rotate(vault.engine, vault.keyring, batch=2)
    assert dict(result.columns) == {"vault_keys.wrapped": 1 + 2, "api_users.totp_sealed": 3}
    assert result.rewrapped == 6 and result.retired == (old,) and not result.resumed
    ring = read_key_file(vault_settings.key_file)
    assert list(ring.keks) == [result.new_kek]  # the old KEK is gone ...
    assert _totp_keks(vault) == {result.new_kek}  # ... and nothing is sealed under it any more
    assert pending(vault.engine, ring) == {"vault_keys.wrapped": 0, "api_users.totp_sealed": 0}
    _all_readable(vault_settings, loggamera, clock, secrets, ids)


def test_wrong_code_is_still_refused_after_rotation(
    vault: Vault, vault_settings: Settings, loggamera: Manifest, clock: FixedClock
) -> None:
    secrets = _enrol(vault, loggamera, clock)
    rotate(vault.engine, vault.keyring)
    fresh = open_vault(vault_settings, loggamera, clock, notify=lambda _m: None)
    login = _login(fresh, loggamera, clock)
    wrong = pyotp.TOTP(pyotp.random_base32()).at(clock.now())
    assert wrong != pyotp.TOTP(secrets["dpo"]).at(clock.now())
    with pytest.raises(AccessDenied, match="one-time code"):
        login.password("dpo", PASSWORD, wrong)
    login.store.close()
    fresh.engine.dispose()


# with batch=1: 1 blind-index key + 2 DEKs, then 3 TOTP secrets -> 6 committed batches; the
# 4th and 5th crash in the middle of the TOTP column, the 2nd in the middle of vault_keys
@pytest.mark.parametrize(
    ("point", "nth"),
    [
        ("rotate.key_file_written", 1),
        ("rotate.batch_committed", 2),
        ("rotate.batch_committed", 4),
        ("rotate.batch_committed", 5),
    ],
)
def test_crash_mid_rotation_then_rerun_leaves_every_secret_readable(
    point: str,
    nth: int,
    vault: Vault,
    vault_settings: Settings,
    loggamera: Manifest,
    clock: FixedClock,
) -> None:
    secrets = _enrol(vault, loggamera, clock)
    ids = _fill(vault, 2)
    with faults.inject(faults.crash_at(point, nth)), pytest.raises(faults.Crash):
        rotate(vault.engine, vault.keyring, batch=1)
    ring = read_key_file(vault_settings.key_file)
    assert len(ring.keks) == 2  # both KEKs kept while anything is still under the old one
    _all_readable(vault_settings, loggamera, clock, secrets, ids)  # nothing lost half-way
    result = rotate(vault.engine, ring, batch=1)
    assert result.resumed
    assert result.rewrapped == 6 - (nth if point == "rotate.batch_committed" else 0)
    ring = read_key_file(vault_settings.key_file)
    assert list(ring.keks) == [result.new_kek]
    assert sum(pending(vault.engine, ring).values()) == 0
    _all_readable(vault_settings, loggamera, clock, secrets, ids)


def test_totp_secrets_are_really_rewrapped(
    vault: Vault, vault_settings: Settings, loggamera: Manifest, clock: FixedClock
) -> None:
    """After rotation the TOTP secrets need the new KEK: they really were re-wrapped."""
    _enrol(vault, loggamera, clock)
    old_ring = vault.keyring
    rotate(vault.engine, old_ring)
    with Session(vault.engine) as s:
        row = s.get(UserRow, "dpo")
        assert row is not None and row.totp_sealed is not None and row.totp_kek is not None
        with pytest.raises(KeyUnavailable):
            old_ring.unwrap(row.totp_sealed, "totp:dpo", row.totp_kek)


def test_every_kek_id_column_in_the_schema_is_registered() -> None:
    """A feature that seals under the KEK must register its column, or rotation loses it."""
    import_models()
    registered = {(c.table, c.kek) for c in sealed_columns()}
    kek_columns = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if "kek" in column.name
    }
    assert kek_columns == registered
    assert ("api_users", "totp_kek") in registered


def test_cli_rotate_keeps_staff_mfa_working(
    home: Path, loggamera: Manifest, clock: FixedClock
) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["staff", "add", "dpo", "--role", "dpo", "--policy", POLICY])
    assert added.exit_code == 0, added.output
    enrolled = runner.invoke(app, ["staff", "mfa", "dpo", "--policy", POLICY])
    assert enrolled.exit_code == 0, enrolled.output
    secret = pyotp.parse_uri(enrolled.stdout.strip()).secret
    rotated = runner.invoke(app, ["keys", "rotate", "--policy", POLICY])
    assert rotated.exit_code == 0, rotated.output
    assert "rotated: 2 keys" in rotated.stdout
    assert "vault_keys.wrapped 1, api_users.totp_sealed 1" in rotated.stdout
    assert len(json.loads((home / "keys.json").read_text())["keks"]) == 1
    vault = open_vault(Settings(home=home), loggamera, clock, notify=lambda _m: None)
    login = _login(vault, loggamera, clock)
    with Session(vault.engine) as s:
        row = s.get(UserRow, "dpo")
        assert row is not None
        totp = login.totp(row)
    assert totp is not None and totp.secret == secret
    assert login.check_mfa(row, pyotp.TOTP(secret).at(clock.now())) is None
    login.store.close()
    vault.engine.dispose()


def test_rotate_help_says_what_it_rotates_and_what_not(home: Path) -> None:
    shown = CliRunner().invoke(app, ["keys", "rotate", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    text = " ".join(shown.stdout.split())
    assert "vault_keys" in text and "staff TOTP secrets (api_users)" in text
    does_not = text[text.index("Does NOT rotate") :]
    for name in ("requests-keys.json", "audit-signing.key", "unsubscribe.key", "blind-index"):
        assert name in does_not
