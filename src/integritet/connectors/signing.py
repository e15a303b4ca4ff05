"""Webhook signatures, secrets from the environment, and sealing bodies at rest.

Every webhook carries ``X-Integritet-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw
request body under the recipient's shared secret. Receivers check it with
:func:`verify_signature` (constant-time). Secrets are never stored: they come from the
environment variable the manifest names (``recipients[].erasure.secret_env``).

Notification bodies name the person, so the outbox stores them sealed with AES-256-GCM
under a key derived (HKDF-SHA256) from the recipient's secret, bound to the delivery id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from integritet.errors import ConfigError, ConnectorError

SIGNATURE_HEADER = "X-Integritet-Signature"
TIMESTAMP_HEADER = "X-Integritet-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NONCE = 12


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of the raw ``body`` under ``secret``."""
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


def secret_from_env(name: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The webhook secret held in environment variable ``name``; missing is a clear error."""
    if not name or not _ENV_NAME.match(name):
        raise ConfigError("webhook secret: secret_env must name an environment variable")
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise ConfigError(f"webhook secret: environment variable {name} is not set")
    return value


def _key(secret: str, delivery_id: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=delivery_id.encode(),
        info=b"integritet webhook outbox body",
    )
    return hkdf.derive(secret.encode())


def seal(secret: str, delivery_id: str, body: bytes) -> bytes:
    """``body`` encrypted for storage: nonce + AES-256-GCM ciphertext, bound to the id."""
    nonce = os.urandom(_NONCE)
    aad = delivery_id.encode()
    return nonce + AESGCM(_key(secret, delivery_id)).encrypt(nonce, body, aad)


def unseal(secret: str, delivery_id: str, sealed: bytes) -> bytes:
    """The body back; a changed secret or a tampered row is a :class:`ConnectorError`."""
    nonce, data = sealed[:_NONCE], sealed[_NONCE:]
    try:
        return AESGCM(_key(secret, delivery_id)).decrypt(nonce, data, delivery_id.encode())
    except InvalidTag as exc:
        raise ConnectorError(
            f"delivery {delivery_id}: stored body cannot be opened (secret changed?)"
        ) from exc
