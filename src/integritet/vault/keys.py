"""Key-encryption keys (KEK): the key file or ``INTEGRITET_KEK``, rotation, identification.

The KEK never touches record data: it wraps the per-subject keys (and the blind-index
key), which are stored wrapped in ``vault_keys`` next to the id of the KEK that wrapped
them, and a few secrets sealed directly under it (staff TOTP secrets in ``api_users``),
each registered in :mod:`integritet.vault.rotation` so that rotation re-wraps them too.

Sources, in order:

1. ``INTEGRITET_KEK``: one or more base64 keys (32 bytes), comma-separated. The first
   wraps new keys; the others are still accepted for unwrapping (set ``new,old`` and run
   ``integritet keys rotate`` to move everything to the new key, then drop the old one).
2. The key file ``$INTEGRITET_HOME/keys.json`` (mode 0600)::

       {"format": 1, "current": "k…", "keks": {"k…": "<base64>", ...}}

Rotation (:func:`rotate`, implemented in :mod:`integritet.vault.rotation`) is
restartable: it first writes a key file holding the old and the new KEK (atomically, via
rename), then re-wraps every secret sealed under the KEK in committed batches, then
removes the old KEK from the file. A crash at any point leaves every secret unwrappable by
a KEK in the file; running it again finishes the job instead of starting another rotation.

:class:`~integritet.errors.KeyUnavailable` means a KEK is missing or wrong (retry once it
is back); :class:`~integritet.errors.KeyDestroyed` means a subject's key was destroyed on
purpose (see :mod:`integritet.vault.store`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine

from integritet.errors import ConfigError, KeyUnavailable
from integritet.settings import Settings
from integritet.vault import crypto

FORMAT = 1


def kek_id(key: bytes) -> str:
    """A stable, non-secret id for a KEK (a truncated hash of it)."""
    return "k" + hashlib.sha256(b"integritet-kek-id\x00" + key).hexdigest()[:16]


@dataclass
class KeyRing:
    """The KEKs at hand: ``current`` wraps new keys; all of them unwrap."""

    current: str
    keks: dict[str, bytes]
    source: Literal["file", "env"]
    path: Path | None = None
    created: bool = field(default=False)
    # one AES-GCM object per KEK (set-up costs more than unwrapping one key); keyed by the
    # key bytes themselves, so it can never serve a key other than the one asked for
    _ciphers: dict[bytes, AESGCM] = field(default_factory=dict, repr=False, compare=False)

    def _cipher(self, kek: bytes) -> AESGCM:
        aead = self._ciphers.get(kek)
        if aead is None:
            aead = self._ciphers[kek] = crypto.cipher(kek)
        return aead

    def kek(self, wanted: str) -> bytes:
        try:
            return self.keks[wanted]
        except KeyError:
            where = "INTEGRITET_KEK" if self.source == "env" else f"key file {self.path}"
            raise KeyUnavailable(
                f"key-encryption key {wanted} is not in {where}; restore it and retry"
            ) from None

    @property
    def current_key(self) -> bytes:
        return self.keks[self.current]

    def wrap(self, key: bytes, key_id: str) -> tuple[bytes, str]:
        return crypto.wrap_key_with(self._cipher(self.current_key), key, key_id), self.current

    def unwrap(self, wrapped: bytes, key_id: str, wrapped_by: str) -> bytes:
        try:
            return crypto.unwrap_key_with(self._cipher(self.kek(wrapped_by)), wrapped, key_id)
        except crypto.OpenFailed:
            raise KeyUnavailable(
                f"key {key_id.split(':')[-1]} does not open with KEK {wrapped_by}: wrong key"
            ) from None


def _decode(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where} is not valid base64") from None
    if len(key) != crypto.KEY_BYTES:
        raise ConfigError(f"{where} must be {crypto.KEY_BYTES} bytes, not {len(key)}")
    return key


def _encode(key: bytes) -> str:
    return base64.b64encode(key).decode()


def load_keyring(settings: Settings) -> KeyRing | None:
    """The KEKs from ``INTEGRITET_KEK`` or the key file; ``None`` when neither exists."""
    if settings.kek is not None and settings.kek.get_secret_value().strip():
        keys = [
            _decode(part, "INTEGRITET_KEK")
            for part in settings.kek.get_secret_value().split(",")
            if part.strip()
        ]
        ids = [kek_id(k) for k in keys]
        return KeyRing(current=ids[0], keks=dict(zip(ids, keys, strict=True)), source="env")
    path = settings.key_file
    if not path.exists():
        return None
    return read_key_file(path)


def read_key_file(path: Path) -> KeyRing:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"key file {path} is readable by others; run: chmod 600 {path}")
    try:
        data = json.loads(path.read_text())
        keks = {kid: _decode(text, f"key {kid} in {path}") for kid, text in data["keks"].items()}
        current = str(data["current"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError(f"key file {path} is unreadable or damaged") from None
    if current not in keks:
        raise ConfigError(f"key file {path} names a current key it does not hold")
    return KeyRing(current=current, keks=keks, source="file", path=path)


def write_key_file(path: Path, current: str, keks: dict[str, bytes]) -> None:
    """Write the key file atomically (temp file 0600, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(
        {"format": FORMAT, "current": current, "keks": {k: _encode(v) for k, v in keks.items()}},
        indent=2,
    )
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, payload.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def create_key_file(path: Path) -> KeyRing:
    """A new key file with one fresh KEK."""
    key = crypto.new_key()
    kid = kek_id(key)
    write_key_file(path, kid, {kid: key})
    return KeyRing(current=kid, keks={kid: key}, source="file", path=path, created=True)


@dataclass(frozen=True)
class RotationResult:
    new_kek: str
    rewrapped: int  # values re-wrapped, all columns together
    retired: tuple[str, ...]
    resumed: bool
    columns: tuple[tuple[str, int], ...] = ()  # ("table.column", values re-wrapped)


def rotate(engine: Engine, ring: KeyRing, *, batch: int = 500) -> RotationResult:
    """Re-wrap every secret sealed under the KEK with a new KEK (or finish an interrupted one).

    See :func:`integritet.vault.rotation.rotate`.
    """
    from integritet.vault import rotation

    return rotation.rotate(engine, ring, batch=batch)


def pending_rewrap(engine: Engine, ring: KeyRing) -> int:
    """How many secrets are still wrapped by a KEK other than the current one."""
    from integritet.vault import rotation

    return sum(rotation.pending(engine, ring).values())
