"""Ed25519 signing of checkpoints: the key in INTEGRITET_HOME and the checkpoint format."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from integritet.audit.chain import SEP
from integritet.errors import AuditFileError, KeyUnavailable
from integritet.keyfile import create_once

SIGNING_KEY_NAME = "audit-signing.key"
CHECKPOINT_DOMAIN = "integritet-audit-checkpoint-v1"


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the chain had ``hash`` at ``position`` at time ``at``."""

    position: int
    hash: str
    at: str
    public_key: str  # base64 of the raw 32-byte Ed25519 public key
    signature: str  # base64

    def payload(self) -> bytes:
        return SEP.join((CHECKPOINT_DOMAIN, str(self.position), self.hash, self.at)).encode()

    def signed_by(self, public_key: Ed25519PublicKey) -> bool:
        """True when the signature is valid and made by ``public_key``."""
        if self.public_key != b64_public(public_key):
            return False
        try:
            public_key.verify(base64.b64decode(self.signature, validate=True), self.payload())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> str:
        data = {"format": CHECKPOINT_DOMAIN, **self.__dict__}
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, raw: str) -> Checkpoint:
        try:
            data = json.loads(raw)
            if data.get("format") != CHECKPOINT_DOMAIN:
                raise ValueError("format")
            return cls(
                position=int(data["position"]),
                hash=str(data["hash"]),
                at=str(data["at"]),
                public_key=str(data["public_key"]),
                signature=str(data["signature"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AuditFileError("not an integritet audit checkpoint file") from exc

    @classmethod
    def read(cls, path: Path) -> Checkpoint:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise AuditFileError(f"cannot read checkpoint file {path.name}") from exc


def b64_public(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_or_create_signing_key(
    path: Path, notify: Callable[[str], None] | None = None, *, create: bool = True
) -> Ed25519PrivateKey:
    """Load the Ed25519 key at ``path``; create it (mode 0600) on first use and say so.

    With ``create=False`` a missing key is :class:`KeyUnavailable` (verifying must never
    make a new key: it could not check the existing signatures).
    """
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        if not create:
            raise KeyUnavailable(
                f"audit signing key {path} is missing: restore it to check the signed checkpoints"
            ) from None
        return _create_signing_key(path, notify)
    except (OSError, ValueError) as exc:
        raise KeyUnavailable(f"audit signing key {path.name} is unreadable") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnavailable(f"audit signing key {path.name} is not an Ed25519 key")
    return key


def _create_signing_key(path: Path, notify: Callable[[str], None] | None) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if not create_once(path, pem):  # another thread or process was first: use theirs
        return load_or_create_signing_key(path, notify)
    message = f"created audit signing key {path}"
    if notify is not None:
        notify(message)
    else:
        print(message, file=sys.stderr)
    return key
