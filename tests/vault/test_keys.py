"""Key-encryption keys: the key file, INTEGRITET_KEK, rotation that survives a crash."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.errors import ConfigError, KeyUnavailable
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault import Vault, faults, open_vault
from integritet.vault.keys import kek_id, pending_rewrap, read_key_file, rotate


def _fill(vault: Vault, system: Actor, n: int) -> list[str]:
    ids = []
    for i in range(n):
        sid = vault.create_subject(system, "account", {"email": f"k{i}@example.se"})
        vault.put_record(system, "account", sid, "contact", {"name": f"N{i}"}, "person")
        ids.append(sid)
    return ids


def _readable(settings: Settings, manifest: Manifest, clock: FixedClock, ids: list[str]) -> None:
    vault = open_vault(settings, manifest, clock, notify=lambda _m: None)
    system = Actor.system("check")
    for i, sid in enumerate(ids):
        assert [r.fields for r in vault.records(system, "account", sid)] == [{"name": f"N{i}"}]
    assert vault.find_subject(system, "account", "email", "k0@example.se") == ids[0]
    assert vault.audit.verify().ok
    vault.engine.dispose()


def test_fresh_home_creates_key_file_0600_and_says_so(
    vault_settings: Settings, loggamera: Manifest, clock: FixedClock
) -> None:
    said: list[str] = []
    vault = open_vault(vault_settings, loggamera, clock, notify=said.append)
    mode = stat.S_IMODE(vault_settings.key_file.stat().st_mode)
    assert mode == 0o600
    assert any("created the key file" in m for m in said)
    vault.engine.dispose()


def test_missing_key_with_data_is_refused(
    vault: Vault, vault_settings: Settings, loggamera: Manifest, system: Actor
) -> None:
    _fill(vault, system, 1)
    vault_settings.key_file.unlink()
    with pytest.raises(KeyUnavailable, match="holds encrypted data but the key file"):
        open_vault(vault_settings, loggamera, notify=lambda _m: None)
    assert not vault_settings.key_file.exists()  # no new key was made


def test_wrong_kek_is_unavailable_not_destroyed(
    vault: Vault, vault_settings: Settings, loggamera: Manifest, system: Actor
) -> None:
    _fill(vault, system, 1)
    other = base64.b64encode(os.urandom(32)).decode()
    env = vault_settings.model_copy(update={"kek": SecretStr(other)})
    with pytest.raises(KeyUnavailable, match="is not in INTEGRITET_KEK"):
        open_vault(env, loggamera, notify=lambda _m: None)


def test_key_file_readable_by_others_is_refused(vault: Vault, vault_settings: Settings) -> None:
    vault_settings.key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_key_file(vault_settings.key_file)


def test_rotation_rewraps_without_touching_records(
    vault: Vault, vault_settings: Settings, loggamera: Manifest, clock: FixedClock, system: Actor
) -> None:
    ids = _fill(vault, system, 3)
    before = vault.keyring.current
    result = rotate(vault.engine, vault.keyring, batch=2)
    assert result.rewrapped == 1 + 3  # the blind-index key and three DEKs
    ring = read_key_file(vault_settings.key_file)
    assert list(ring.keks) == [result.new_kek] and result.new_kek != before
    _readable(vault_settings, loggamera, clock, ids)


@pytest.mark.parametrize("point", ["rotate.key_file_written", "rotate.batch_committed"])
def test_rotation_survives_a_crash_and_resumes(
    point: str,
    vault: Vault,
    vault_settings: Settings,
    loggamera: Manifest,
    clock: FixedClock,
    system: Actor,
) -> None:
    ids = _fill(vault, system, 5)
    with faults.inject(faults.crash_at(point)), pytest.raises(faults.Crash):
        rotate(vault.engine, vault.keyring, batch=2)
    ring = read_key_file(vault_settings.key_file)
    assert len(ring.keks) == 2  # old and new both kept until the rotation completes
    _readable(vault_settings, loggamera, clock, ids)  # nothing is unreadable half-way
    result = rotate(vault.engine, ring, batch=2)
    assert result.resumed
    assert pending_rewrap(vault.engine, read_key_file(vault_settings.key_file)) == 0
    assert len(json.loads(vault_settings.key_file.read_text())["keks"]) == 1
    _readable(vault_settings, loggamera, clock, ids)


def test_env_kek_rotation_with_two_keys(
    tmp_path: Path, database_url: str, loggamera: Manifest, clock: FixedClock, system: Actor
) -> None:
    old, new = os.urandom(32), os.urandom(32)
    b64 = [base64.b64encode(k).decode() for k in (old, new)]
    settings = Settings(home=tmp_path / "h", database_url=database_url, kek=SecretStr(b64[0]))
    vault = open_vault(settings, loggamera, clock, notify=lambda _m: None)
    assert not settings.key_file.exists()
    ids = _fill(vault, system, 2)
    vault.engine.dispose()
    both = settings.model_copy(update={"kek": SecretStr(f"{b64[1]},{b64[0]}")})
    v2 = open_vault(both, loggamera, clock, notify=lambda _m: None)
    result = rotate(v2.engine, v2.keyring)
    assert result.new_kek == kek_id(new) and result.retired == (kek_id(old),)
    v2.engine.dispose()
    _readable(settings.model_copy(update={"kek": SecretStr(b64[1])}), loggamera, clock, ids)
