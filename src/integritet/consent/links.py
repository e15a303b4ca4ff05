"""Signed one-click unsubscribe links (Art. 7(3): withdrawing as easy as giving), and sealed
links to the communication-preferences page that every other email carries."""

from __future__ import annotations

import os
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from integritet.consent.ledger import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.errors import ConsentError
from integritet.keyfile import create_once


@dataclass(frozen=True)
class UnsubscribeTarget:
    subject_id: str
    purpose: str
    channel: str


class UnsubscribeLinks:
    """Signed one-click unsubscribe tokens per subject x purpose x channel (Art. 7(3)).

    A token is ``subject.purpose.channel.signature`` where the signature is an
    HMAC-SHA256 (``cryptography``) under a key only the server holds. The token
    carries only the pseudonymous subject id, so a leaked link reveals nothing.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ConsentError("the unsubscribe signing key must be at least 32 bytes")
        self._key = key

    def _sign(self, subject_id: str, purpose: str, channel: str) -> str:
        from base64 import urlsafe_b64encode

        from cryptography.hazmat.primitives import hashes, hmac

        mac = hmac.HMAC(self._key, hashes.SHA256())
        mac.update(f"unsubscribe|{subject_id}|{purpose}|{channel}".encode())
        return urlsafe_b64encode(mac.finalize()[:18]).decode().rstrip("=")

    def token(self, subject_id: str, purpose: str, channel: str) -> str:
        return f"{subject_id}.{purpose}.{channel}.{self._sign(subject_id, purpose, channel)}"

    def url(self, base_url: str, subject_id: str, purpose: str, channel: str) -> str:
        return f"{base_url.rstrip('/')}/unsubscribe/{self.token(subject_id, purpose, channel)}"

    def parse(self, token: str) -> UnsubscribeTarget:
        """Check the signature; raise :class:`ConsentError` for a forged or broken token."""
        import hmac as std_hmac

        parts = token.split(".")
        if len(parts) != 4:
            raise ConsentError("this unsubscribe link is not valid")
        subject_id, purpose, channel, signature = parts
        expected = self._sign(subject_id, purpose, channel)
        if not std_hmac.compare_digest(expected.encode(), signature.encode()):
            raise ConsentError("this unsubscribe link is not valid")
        return UnsubscribeTarget(subject_id, purpose, channel)

    def unsubscribe(self, ledger: ConsentLedger, token: str, policy_version: str) -> str:
        """Withdraw the consent a token names. Idempotent: a second click changes nothing."""
        target = self.parse(token)
        ledger.purpose(target.purpose, target.channel)
        current = {(c.purpose, c.channel): c.state for c in ledger.current(target.subject_id)}
        if current.get((target.purpose, target.channel)) == ConsentState.withdrawn:
            return target.purpose
        ledger.record(
            target.subject_id,
            target.purpose,
            target.channel,
            ConsentState.withdrawn,
            Evidence(ConsentSource.unsubscribe, policy_version),
        )
        return target.purpose


UNSUBSCRIBE_KEY = "unsubscribe.key"
PREFERENCES_PATH = "/portal/preferences/"


def signing_key(home: Path) -> bytes:
    """The link-signing key in ``home/unsubscribe.key``, created (0600) on first use."""
    path = home / UNSUBSCRIBE_KEY
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    key = secrets.token_bytes(32)
    if not create_once(path, key.hex().encode()):  # another thread or process was first
        return bytes.fromhex(path.read_text().strip())
    return key


class PreferenceLinks:
    """Links to the communication-preferences page for one email address, without sign-in.

    Service and legal mail (codes, request notices, retention warnings, policy changes,
    processor requests) has no consent to withdraw, so its ``List-Unsubscribe`` points here:
    a page where the person who received the email sees and withdraws every consent given
    for that address. The token is the address sealed with AES-256-GCM under a key derived
    from the unsubscribe signing key (``v1.<base64url(nonce | ciphertext | tag)>``): the
    link reveals nothing to whoever sees it in a log, and any change to it is refused.
    """

    VERSION = "v1"
    _AAD = b"integritet|preferences-link|v1"

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ConsentError("the link signing key must be at least 32 bytes")
        mac = hmac.HMAC(key, hashes.SHA256())
        mac.update(b"integritet|preferences-link-key|v1")
        self._aead = AESGCM(mac.finalize())

    def token(self, address: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, address.strip().lower().encode(), self._AAD)
        return f"{self.VERSION}.{urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def url(self, base_url: str, address: str) -> str:
        return f"{base_url.rstrip('/')}{PREFERENCES_PATH}{self.token(address)}"

    def parse(self, token: str) -> str:
        """The address; :class:`ConsentError` for a forged, changed or broken token."""
        version, _, body = token.partition(".")
        if version != self.VERSION or not body or len(body) > 1024:
            raise ConsentError("this link is not valid")
        try:
            raw = urlsafe_b64decode(body + "=" * (-len(body) % 4))
            if len(raw) < 12 + 16:
                raise ValueError
            return self._aead.decrypt(raw[:12], raw[12:], self._AAD).decode()
        except (ValueError, InvalidTag, UnicodeDecodeError):
            raise ConsentError("this link is not valid") from None
