"""Envelope encryption: AES-256-GCM data keys wrapped by the key-encryption key.

- Each subject has a data-encryption key (DEK, 32 random bytes); legal-hold
  categories use a separate hold key per subject and hold.
- Record fields are serialised as JSON and sealed with AES-256-GCM under the DEK.
  The associated data (AAD) binds tenant, subject, category and record id, so a
  ciphertext copied to another record, subject, category or tenant fails to open.
- Keys are wrapped with AES-256-GCM under the KEK; the AAD binds the key's row id so a
  wrapped key cannot be moved to another subject either.
- Identity lookups use a blind index: HMAC-SHA256 under its own index key over the
  normalised value, never the value itself.

Only :mod:`cryptography` primitives are used. Sealed blobs are ``version || nonce || ct``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from integritet.errors import VaultError

KEY_BYTES = 32
NONCE_BYTES = 12
VERSION = b"\x01"
_SEP = "\x1f"


class OpenFailed(VaultError):
    """A sealed blob did not open: wrong key or wrong associated data (tampered or moved)."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def record_aad(tenant: str | None, subject: str, category: str, record_id: str) -> bytes:
    """The associated data binding a record's ciphertext to where it belongs."""
    return record_aad_prefix(tenant, subject, category) + record_id.encode()


def record_aad_prefix(tenant: str | None, subject: str, category: str) -> bytes:
    """:func:`record_aad` without the record id, for batches (``prefix + id.encode()``)."""
    return _SEP.join(("rec", tenant or "-", subject, category, "")).encode()


def identity_aad(tenant: str | None, subject: str, kind: str) -> bytes:
    return _SEP.join(("idn", tenant or "-", subject, kind)).encode()


def key_aad(key_id: str) -> bytes:
    return _SEP.join(("key", key_id)).encode()


def cipher(key: bytes) -> AESGCM:
    """An AES-256-GCM object for ``key``, to reuse for many blobs under the same key (its
    set-up costs more than sealing a short record)."""
    return AESGCM(key)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return seal_with(AESGCM(key), plaintext, aad)


def seal_with(aead: AESGCM, plaintext: bytes, aad: bytes, nonce: bytes | None = None) -> bytes:
    """:func:`seal` with a reused :func:`cipher`. Every blob needs a fresh random nonce:
    leave ``nonce`` out, or pass one of :func:`random_blocks` (never reuse one)."""
    if nonce is None:
        nonce = os.urandom(NONCE_BYTES)
    elif len(nonce) != NONCE_BYTES:
        raise ValueError("a nonce is 12 random bytes")
    return VERSION + nonce + aead.encrypt(nonce, plaintext, aad)


def random_blocks(size: int, count: int) -> list[bytes]:
    """``count`` independent random byte strings of ``size`` bytes from one ``os.urandom``
    call (batches draw nonces this way instead of one system call per record)."""
    pool = os.urandom(size * count)
    return [pool[i : i + size] for i in range(0, size * count, size)]


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    return open_with(AESGCM(key), blob, aad)


def open_with(aead: AESGCM, blob: bytes, aad: bytes) -> bytes:
    """:func:`open_sealed` with a reused :func:`cipher`."""
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION:
        raise OpenFailed("not a sealed blob")
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return aead.decrypt(nonce, blob[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise OpenFailed("authentication failed") from None


_FIELDS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def fields_bytes(fields: Mapping[str, Any]) -> bytes:
    """The plaintext of a record: compact JSON with sorted keys (UTF-8)."""
    return _FIELDS_JSON.encode(fields if isinstance(fields, dict) else dict(fields)).encode()


def seal_fields(key: bytes, fields: Mapping[str, Any], aad: bytes) -> bytes:
    return seal(key, fields_bytes(fields), aad)


def open_fields(key: bytes, blob: bytes, aad: bytes) -> dict[str, Any]:
    return open_fields_with(AESGCM(key), blob, aad)


def open_fields_with(aead: AESGCM, blob: bytes, aad: bytes) -> dict[str, Any]:
    value = json.loads(open_with(aead, blob, aad))
    if not isinstance(value, dict):
        raise OpenFailed("sealed fields are not an object")
    return value


def wrap_key(kek: bytes, key: bytes, key_id: str) -> bytes:
    return seal(kek, key, key_aad(key_id))


def wrap_key_with(kek: AESGCM, key: bytes, key_id: str) -> bytes:
    return seal_with(kek, key, key_aad(key_id))


def unwrap_key(kek: bytes, wrapped: bytes, key_id: str) -> bytes:
    return open_sealed(kek, wrapped, key_aad(key_id))


def unwrap_key_with(kek: AESGCM, wrapped: bytes, key_id: str) -> bytes:
    return open_with(kek, wrapped, key_aad(key_id))


# --------------------------------------------------------------------------- blind index

_NON_DIGITS = re.compile(r"\D")


def normalise(kind: str, value: str) -> str:
    """Canonical form of an identity value, so lookups match however it was typed.

    - email: trimmed, lower case;
    - phone: digits only, ``00``/``0`` prefixes turned into ``+<country>`` (Sweden: ``+46``);
    - personnummer: the last 10 digits (``19851231-1234`` == ``8512311234``);
    - others: trimmed.
    """
    value = value.strip()
    if kind == "email":
        return value.lower()
    if kind == "phone":
        digits = _NON_DIGITS.sub("", value)
        if value.startswith("+"):
            return "+" + digits
        if digits.startswith("00"):
            return "+" + digits[2:]
        if digits.startswith("0"):
            return "+46" + digits[1:]
        return "+" + digits
    if kind == "personnummer":
        digits = _NON_DIGITS.sub("", value)
        return digits[-10:]
    return value


def blind_index(index_key: bytes, kind: str, value: str) -> bytes:
    """HMAC-SHA256 of the normalised value, domain-separated by identity kind."""
    message = f"{kind}{_SEP}{normalise(kind, value)}".encode()
    return hmac.new(index_key, message, hashlib.sha256).digest()
