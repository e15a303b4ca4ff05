"""Keys of the request engine: sealing, blind index and receipt signing.

One JSON key file in ``INTEGRITET_HOME`` (mode 0600, created on first use) holds
three keys: an AES-256-GCM key that seals the few personal values a request must
read back (contact address, corrections, staff notes), an HMAC-SHA256 key for
blind indexes (identity lookups without plaintext), and an Ed25519 key that signs
erasure receipts. All primitives come from ``cryptography``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from integritet.errors import ConfigError, KeyUnavailable
from integritet.keyfile import create_once

KEY_FILE = "requests-keys.json"
_NONCE = 12


def normalise(kind: str, value: str) -> str:
    """The canonical form of an identity, so ``A@X.se `` and ``a@x.se`` index alike."""
    value = value.strip()
    if kind == "email":
        return value.lower()
    if kind == "phone":
        digits = re.sub(r"[^\d+]", "", value)
        return "+46" + digits[1:] if digits.startswith("0") else digits
    if kind == "personnummer":
        digits = re.sub(r"\D", "", value)
        return digits[-10:] if len(digits) >= 10 else digits
    return value


class RequestKeys:
    """Seal/open, blind-index and sign with the keys from the key file."""

    def __init__(self, seal_key: bytes, mac_key: bytes, signing_key: Ed25519PrivateKey) -> None:
        self._seal_key = seal_key
        self._aead = AESGCM(seal_key)
        self._mac = mac_key
        self._signing = signing_key

    @classmethod
    def generate(cls) -> RequestKeys:
        return cls(AESGCM.generate_key(256), os.urandom(32), Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, home: Path) -> RequestKeys:
        """Read ``home/requests-keys.json``, creating it (0600) when absent."""
        path = home / KEY_FILE
        if not path.exists():
            keys = cls.generate()
            if not create_once(path, json.dumps(keys._export()).encode()):
                return cls.load_or_create(home)  # another thread or process was first
            return keys
        try:
            data = json.loads(path.read_text())
            signing = Ed25519PrivateKey.from_private_bytes(base64.b64decode(data["sign"]))
            return cls(base64.b64decode(data["seal"]), base64.b64decode(data["mac"]), signing)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"request key file {path} is unreadable: {type(exc).__name__}"
            ) from exc

    def _export(self) -> dict[str, str]:
        raw = self._signing.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return {
            "seal": base64.b64encode(self._seal_key).decode(),
            "mac": base64.b64encode(self._mac).decode(),
            "sign": base64.b64encode(raw).decode(),
        }

    # ------------------------------------------------------------ sealing
    def seal(self, plaintext: str, context: str) -> bytes:
        """Encrypt ``plaintext`` bound to ``context`` (e.g. ``request-id|contact``)."""
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, blob: bytes, context: str) -> str:
        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], context.encode()).decode()
        except InvalidTag as exc:
            raise KeyUnavailable("a sealed request value cannot be opened with this key") from exc

    # ------------------------------------------------------------ blind index
    def blind(self, kind: str, value: str) -> str:
        message = f"{kind}:{normalise(kind, value)}".encode()
        return hmac.new(self._mac, message, hashlib.sha256).hexdigest()

    def code_hash(self, request_id: str, code: str) -> str:
        message = f"code:{request_id}:{code.strip()}".encode()
        return hmac.new(self._mac, message, hashlib.sha256).hexdigest()

    # ------------------------------------------------------------ signing
    def with_signing_key(self, key: Ed25519PrivateKey) -> RequestKeys:
        """The same sealing and index keys, signing with ``key`` (the audit log's key)."""
        return RequestKeys(self._seal_key, self._mac, key)

    def sign(self, body: bytes) -> str:
        return self._signing.sign(body).hex()

    @property
    def public_key(self) -> str:
        return self._signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def verify_signature(public_key_hex: str, body: bytes, signature_hex: str) -> bool:
    """True when ``signature_hex`` is a valid Ed25519 signature of ``body``."""
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    try:
        key.verify(bytes.fromhex(signature_hex), body)
    except InvalidSignature:
        return False
    return True
