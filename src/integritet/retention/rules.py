"""What is due: the manifest's retention rules, legal holds and anchors, at a given time.

Pure functions, no I/O: the sweep feeds them a record's creation time, the subject's
recorded events (``last_login``, ``contract_end``, ``deregistered``, custom events...) and
the hold date the vault stored, and gets back a :class:`Decision`.

Anchors. ``collected`` is the record's creation; ``fiscal_year_end`` the end of the
calendar year the record was created in (the fiscal year is the calendar year); every other
anchor is an event recorded on the subject (``custom`` uses the rule's ``event`` name).
A rule whose anchor event has not happened is not due.

Legal holds. A record is held while *any* hold covering its category has not ended: the
rule's own ``holds`` and every ``legal_holds`` entry naming the category (a law applies
whether or not a rule mentions it), plus the ``hold_until`` the vault stored on the record.
A hold anchored on an event that has not happened yet has not started, so it holds forever
until it does. A held record is never due before the hold's destroy-after date.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from integritet.clock import utc
from integritet.manifest.model import Anchor, Duration, LegalHold, Manifest, RetentionRule

FOREVER = datetime.max.replace(tzinfo=UTC)

RECORD_ANCHORS = frozenset({Anchor.collected, Anchor.fiscal_year_end})


class Verdict(StrEnum):
    keep = "keep"  # not due yet (or no anchor)
    due = "due"  # act now
    held = "held"  # due by the rule, kept by a legal hold


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    anchor_at: datetime | None = None
    due_at: datetime | None = None
    held_until: datetime | None = None


def event_name(rule_anchor: Anchor, event: str | None) -> str:
    """The subject event a (non-record) anchor reads: the anchor's name or the custom event."""
    if rule_anchor == Anchor.custom:
        if not event:
            raise ValueError("anchor 'custom' needs an event name")
        return event
    return rule_anchor.value


def fiscal_year_end(at: datetime) -> datetime:
    """The last second of the (calendar) fiscal year ``at`` falls in."""
    return datetime(utc(at).year, 12, 31, 23, 59, 59, tzinfo=UTC)


def anchor_time(
    anchor: Anchor,
    event: str | None,
    created_at: datetime,
    events: dict[str, datetime],
) -> datetime | None:
    """When the clock of a rule or hold started for this record, or None if it has not."""
    if anchor == Anchor.collected:
        return utc(created_at)
    if anchor == Anchor.fiscal_year_end:
        return fiscal_year_end(created_at)
    at = events.get(event_name(anchor, event))
    return utc(at) if at is not None else None


def holds_for(manifest: Manifest, rule: RetentionRule, category: str) -> list[LegalHold]:
    """The rule's own holds on ``category`` and every hold the manifest puts on it."""
    named = {h.id: h for h in manifest.legal_holds if h.id in rule.holds}
    for hold in manifest.holds_for(category):
        named[hold.id] = hold
    return [h for h in named.values() if category in h.categories]


def hold_until(
    holds: list[LegalHold],
    created_at: datetime,
    events: dict[str, datetime],
    stored: datetime | None = None,
) -> datetime | None:
    """The latest destroy-after date of the holds (FOREVER when one has not started)."""
    latest = utc(stored) if stored is not None else None
    for hold in holds:
        start = anchor_time(hold.anchor, None, created_at, events)
        until = FOREVER if start is None else hold.duration.after(start)
        if latest is None or until > latest:
            latest = until
    return latest


def decide(
    manifest: Manifest,
    rule: RetentionRule,
    category: str,
    created_at: datetime,
    events: dict[str, datetime],
    now: datetime,
    stored_hold: datetime | None = None,
) -> Decision:
    """Whether ``rule`` wants this record of ``category`` gone at ``now``."""
    now = utc(now)
    start = anchor_time(rule.anchor, rule.event, created_at, events)
    if start is None:
        return Decision(Verdict.keep)
    due = rule.duration.after(start)
    if due > now:
        return Decision(Verdict.keep, start, due)
    until = hold_until(holds_for(manifest, rule, category), created_at, events, stored_hold)
    if until is not None and until > now:
        return Decision(Verdict.held, start, due, until)
    return Decision(Verdict.due, start, due, until)


def warning_due(rule: RetentionRule, anchor_at: datetime, now: datetime) -> datetime | None:
    """The deletion date to warn about when ``now`` is inside the rule's warning window."""
    if rule.warn_before is None:
        return None
    due = rule.duration.after(utc(anchor_at))
    warn_from = _minus(due, rule)
    return due if warn_from <= utc(now) < due else None


def _minus(due: datetime, rule: RetentionRule) -> datetime:
    """``due`` minus ``warn_before`` (month ends clamped, like ``Duration.after``)."""
    return before(rule.warn_before, due) if rule.warn_before is not None else due


def rule_covers(rule: RetentionRule, category: str) -> bool:
    return category in rule.categories


def record_level(rule: RetentionRule) -> bool:
    """True when the rule's clock runs per record (collected, fiscal_year_end)."""
    return rule.anchor in RECORD_ANCHORS


def before(duration: Duration, now: datetime) -> datetime:
    """``now`` minus ``duration`` (month ends clamped): the cut-off for timestamp columns."""
    now = utc(now)
    if duration.unit in ("m", "y"):
        months = duration.amount * (12 if duration.unit == "y" else 1)
        year, month0 = divmod(now.month - 1 - months, 12)
        day = min(now.day, calendar.monthrange(now.year + year, month0 + 1)[1])
        return now.replace(year=now.year + year, month=month0 + 1, day=day)
    return now - (duration.after(now) - now)
