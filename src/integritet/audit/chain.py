"""The chain itself: events, the canonical encoding, and the loop that checks rows.

Pure functions and plain data, no database: :mod:`integritet.audit.log` stores and
streams rows, :class:`ChainWalker` checks them wherever they come from.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from integritet.clock import utc

Outcome = Literal["allowed", "denied", "done", "failed"]
DetailValue = str | int | float | bool | None
OUTCOMES: frozenset[str] = frozenset({"allowed", "denied", "done", "failed"})
GENESIS = "0" * 64
SEP = "\x1f"
FIELDS = 10  # fields in the canonical encoding, so SEP occurs FIELDS - 1 times
AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHA256 = hashlib.sha256()  # copied per row: cheaper than a new OpenSSL context each time


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened. ``subject`` is pseudonymous; ``detail`` holds no personal data."""

    actor: str
    action: str
    outcome: Outcome
    purpose: str | None = None
    subject: str | None = None
    customer: str | None = None
    detail: Mapping[str, DetailValue] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    """One stored row of the chain."""

    position: int
    at: datetime
    actor: str
    action: str
    outcome: str
    purpose: str | None
    subject: str | None
    customer: str | None
    detail: dict[str, DetailValue]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "at": format_at(self.at),
            "actor": self.actor,
            "action": self.action,
            "outcome": self.outcome,
            "purpose": self.purpose,
            "subject": self.subject,
            "customer": self.customer,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :meth:`AuditLog.verify`. ``bad_position`` is the first bad row."""

    ok: bool
    rows: int
    last_position: int
    last_hash: str
    checkpoints: int
    bad_position: int | None = None
    reason: str | None = None


def format_at(at: datetime) -> str:
    at = utc(at)
    if at.year < 1000:  # strftime's %Y does not pad years before 1000 here
        return at.strftime(AT_FORMAT)
    return (  # AT_FORMAT, without strftime (~0.5 µs less a call)
        f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}"
        f":{at.second:02d}.{at.microsecond:06d}Z"
    )


def parse_at(raw: str) -> datetime:
    return datetime.strptime(raw, AT_FORMAT).replace(tzinfo=UTC)


# What json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=True,
# allow_nan=False) builds on every call, built once (same output).
_DETAIL_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
).encode
_DETAIL_TYPES = (str, int, float, bool, type(None))


def canonical_detail(detail: Mapping[str, DetailValue]) -> str:
    if not detail:
        return "{}"
    for key, value in detail.items():
        if not isinstance(key, str) or not isinstance(value, _DETAIL_TYPES):
            raise ValueError("audit detail values must be str, int, float, bool or None")
    return _DETAIL_JSON(dict(detail))


def canonical_encoding(
    position: int,
    at: str,
    actor: str,
    action: str,
    outcome: str,
    purpose: str | None,
    subject: str | None,
    customer: str | None,
    detail: str,
    prev_hash: str,
) -> bytes:
    """The bytes a row's hash is computed over (see the module docstring)."""
    return SEP.join(
        (
            str(position),
            at,
            actor,
            action,
            outcome,
            purpose if purpose is not None else "",
            subject if subject is not None else "",
            customer if customer is not None else "",
            detail,
            prev_hash,
        )
    ).encode()


def _check_text(name: str, value: str | None, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value or _CONTROL.search(value):
        raise ValueError(
            f"audit field {name} must be a non-empty string without control characters"
        )


def validate_event(event: AuditEvent) -> None:
    _check_text("actor", event.actor, optional=False)
    _check_text("action", event.action, optional=False)
    if event.outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {sorted(OUTCOMES)}")
    for name in ("purpose", "subject", "customer"):
        _check_text(name, getattr(event, name), optional=True)
    if event.subject is not None and "@" in event.subject:
        raise ValueError("audit subject must be a pseudonymous id, not an address")


class ChainWalker:
    """Checks rows fed in position order; stops at the first bad one.

    Separated from the database so the same loop verifies rows from anywhere.
    ``signed`` maps checkpoint positions to the hash the chain must have there.
    """

    def __init__(self, signed: Mapping[int, str], start: int = 1, prev: str = GENESIS) -> None:
        """``start`` and ``prev``: resume at a position whose previous row hashed to ``prev``."""
        self.signed = dict(signed)
        self.expected = start
        self.prev = prev
        self.bad_position: int | None = None
        self.reason: str | None = None

    def _fail(self, position: int, reason: str) -> bool:
        self.bad_position, self.reason = position, reason
        return False

    def feed(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Check ``rows``; False (and ``bad_position``/``reason`` set) at the first bad one."""
        new, join, signed = _SHA256.copy, SEP.join, self.signed
        expected, prev = self.expected, self.prev
        try:
            for row in rows:
                pos, at, actor, action, outcome, purpose, subject, customer, detail, link, h = row
                if pos != expected:
                    if isinstance(pos, int) and pos > expected:
                        return self._fail(expected, "row missing (deleted)")
                    return self._fail(expected, f"unexpected row position {pos}")
                if link != prev:
                    return self._fail(pos, "link to the previous row's hash broken")
                if "" in (purpose, subject, customer):
                    return self._fail(pos, "malformed row (empty field)")
                enc = join((
                    str(pos), at, actor, action, outcome, "" if purpose is None else purpose,
                    "" if subject is None else subject, "" if customer is None else customer,
                    detail, prev,
                ))  # fmt: skip
                if enc.count(SEP) != FIELDS - 1:
                    return self._fail(pos, "malformed row (separator in a field)")
                sha = new()
                sha.update(enc.encode())
                if sha.hexdigest() != h:
                    return self._fail(pos, "row content does not match its hash (edited)")
                if pos in signed and signed[pos] != h:
                    return self._fail(pos, "chain does not match the signed checkpoint")
                prev = h
                expected += 1
        except (TypeError, ValueError, AttributeError):
            return self._fail(expected, "malformed row (wrong field types)")
        finally:
            self.expected, self.prev = expected, prev
        return True

    def result(self, checkpoints: int) -> VerifyResult:
        last = self.expected - 1
        if self.bad_position is None and self.signed and max(self.signed) > last:
            self.bad_position = self.expected
            self.reason = f"log truncated: a signed checkpoint covers position {max(self.signed)}"
        return VerifyResult(
            ok=self.bad_position is None,
            rows=last,
            last_position=last,
            last_hash=self.prev,
            checkpoints=checkpoints,
            bad_position=self.bad_position,
            reason=self.reason,
        )


def chain(rows: Sequence[AuditEvent], at: Sequence[str]) -> list[tuple[Any, ...]]:
    """Build raw row tuples for ``rows`` as :meth:`AuditLog.append` would (tests, benches)."""
    out: list[tuple[Any, ...]] = []
    prev = GENESIS
    for position, (event, stamp) in enumerate(zip(rows, at, strict=True), start=1):
        detail = canonical_detail(event.detail)
        fields = (
            position, stamp, event.actor, event.action, event.outcome,
            event.purpose, event.subject, event.customer, detail, prev,
        )  # fmt: skip
        digest = hashlib.sha256(canonical_encoding(*fields)).hexdigest()
        out.append((*fields, digest))
        prev = digest
    return out
