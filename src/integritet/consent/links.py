"""Signed one-click unsubscribe links (Art. 7(3): withdrawing as easy as giving)."""

from __future__ import annotations

from dataclasses import dataclass

from integritet.consent.ledger import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.errors import ConsentError


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
