"""The encrypted personal-data vault.

Open it with :func:`open_vault`; every operation takes an
:class:`~integritet.access.Actor` and a purpose and is checked against the manifest,
audited, and sealed under per-subject keys. See ``docs/vault.md``.

    vault = open_vault(settings, manifest, clock)
    staff = Actor.staff("anna", "support")
    sid = vault.create_subject(staff, "account", {"email": "a@example.se"})
    vault.put_record(staff, "account", sid, "contact", {"name": "Anna"}, source="person")
    vault.put_records(staff, "account", [NewRecord(sid, "contact", {"name": "A"}, "person")])
    vault.find_subject(staff, "account", "email", "A@example.se")  # -> sid
    vault.erase(Actor.system("requests"), "account", sid)
"""

from __future__ import annotations

from integritet.access import Actor
from integritet.vault.core import IDENTITY_KINDS, NewRecord, Record
from integritet.vault.erasure import ErasureResult, KeptRecord, ReplayResult
from integritet.vault.keys import KeyRing, RotationResult
from integritet.vault.open import open_vault, vault_engine
from integritet.vault.store import Vault

__all__ = [
    "IDENTITY_KINDS",
    "Actor",
    "ErasureResult",
    "KeptRecord",
    "KeyRing",
    "NewRecord",
    "Record",
    "ReplayResult",
    "RotationResult",
    "Vault",
    "open_vault",
    "vault_engine",
]
