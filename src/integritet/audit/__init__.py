"""The tamper-evident audit log: a hash chain with Ed25519-signed checkpoints.

Every row of ``audit_events`` holds the SHA-256 of a canonical encoding of its
content *and* of the previous row's hash, so editing, deleting, inserting or
reordering any row breaks the chain at that row. Truncating the tail is caught
against a signed checkpoint (position, hash, time): one is written every
``checkpoint_every`` rows and on demand, kept in ``audit_checkpoints`` and
exportable as a JSON file outside the database. The signing key is
``audit-signing.key`` (PKCS#8 PEM, mode 0600) in ``INTEGRITET_HOME``.

Rows carry pseudonymous subject ids only, so the chain stays verifiable after
an erasure. Usage::

    log = AuditLog(engine, settings.home / SIGNING_KEY_NAME, clock)
    with Session(engine) as session, session.begin():
        ...  # the operation
        position = log.append(session, AuditEvent("staff:anna", "vault.read", "allowed"))

``append`` writes inside the caller's transaction; ``append_now`` writes in its
own (refusals must be recorded even when the operation rolls back). Appends are
serialised: on PostgreSQL with a transaction-level advisory lock, on SQLite by
taking the database write lock before reading the chain head.

Canonical encoding: the fields ``position, at, actor, action, outcome, purpose,
subject, customer, detail, prev_hash`` as text, joined by U+001F (unit
separator), UTF-8 encoded. ``at`` is ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; ``None`` is
the empty string (stored strings may not be empty); ``detail`` is JSON with
sorted keys, no spaces, ASCII only. Text fields may not contain control
characters, so the encoding is unambiguous and verify checks it cheaply.
"""

from integritet.audit.chain import (
    GENESIS,
    AuditEntry,
    AuditEvent,
    ChainWalker,
    Outcome,
    VerifyResult,
    canonical_encoding,
)
from integritet.audit.log import AuditCheckpointRow, AuditEventRow, AuditLog
from integritet.audit.signing import SIGNING_KEY_NAME, Checkpoint

__all__ = [
    "GENESIS",
    "SIGNING_KEY_NAME",
    "AuditCheckpointRow",
    "AuditEntry",
    "AuditEvent",
    "AuditEventRow",
    "AuditLog",
    "ChainWalker",
    "Checkpoint",
    "Outcome",
    "VerifyResult",
    "canonical_encoding",
]
