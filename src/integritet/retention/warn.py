"""Warnings before deletion (``warn_before``): one email per subject, rule and anchor.

For a rule anchored on a subject event (``last_login``, ``contract_end``...), a subject
whose deletion date falls within ``warn_before`` gets one email, in Swedish and English,
saying what will be deleted, when, and why — e.g. "your account will be deleted in 30 days
because you have not signed in". A row in ``retention_warnings`` is written *before* the
email is sent and removed again if sending fails, so a warning goes out at most once per
cycle (a new sign-in moves the anchor and starts a new cycle). Record-level rules
(``collected``, ``fiscal_year_end``) do not warn. Subjects without an email identity are
counted, not warned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integritet.clock import utc
from integritet.mail import MailSender
from integritet.manifest.model import Manifest, RetentionRule
from integritet.retention import rules
from integritet.retention.logs import Limit
from integritet.retention.sweep import ACTOR, SUBJECT_BATCH, purpose_for
from integritet.retention.tables import WarningRow
from integritet.vault import Vault
from integritet.vault.tables import EventRow, SubjectRow


@dataclass
class WarningReport:
    rule: str
    due: int = 0  # subjects inside the warning window, not yet warned
    sent: int = 0
    no_address: int = 0
    failed: int = 0


_REASONS = {
    "last_login": ("du inte har loggat in", "you have not signed in"),
    "contract_end": ("ditt avtal har upphört", "your contract has ended"),
    "subscription_end": ("ditt abonnemang har upphört", "your subscription has ended"),
    "deregistered": ("du har avregistrerat dig", "you have deregistered"),
}


def message(
    manifest: Manifest, rule: RetentionRule, due: datetime, now: datetime
) -> tuple[str, str]:
    """The email's subject line and body, Swedish first, then English. No personal data."""
    days = max(0, (due - now).days)
    cats_sv = ", ".join(manifest.category(c).name.sv.lower() for c in rule.categories)
    cats_en = ", ".join(manifest.category(c).name.en.lower() for c in rule.categories)
    reason_sv, reason_en = _REASONS.get(
        rule.anchor.value, ("tiden vi får spara uppgifterna går ut", "the time we may keep it ends")
    )
    name = manifest.controller.name
    subject = f"Dina uppgifter raderas om {days} dagar / Your data will be deleted in {days} days"
    text = (
        f"Hej!\n\nDitt konto och dina uppgifter hos {name} ({cats_sv}) raderas om {days} dagar, "
        f"den {due:%Y-%m-%d}, eftersom {reason_sv}. Vill du behålla kontot räcker det att "
        f"logga in innan dess.\n\nFrågor: {manifest.controller.email}\n\n---\n\n"
        f"Hello,\n\nYour account and your data at {name} ({cats_en}) will be deleted in {days} "
        f"days, on {due:%Y-%m-%d}, because {reason_en}. To keep your account, just sign in "
        f"before then.\n\nQuestions: {manifest.controller.email}\n"
    )
    return subject, text


def send_warnings(
    vault: Vault,
    rule: RetentionRule,
    now: datetime,
    mailer: MailSender | None,
    *,
    dry_run: bool,
) -> WarningReport:
    """Warn every subject inside the rule's warning window who has not been warned yet."""
    report = WarningReport(rule.id)
    if rule.warn_before is None or rules.record_level(rule):
        return report
    event = rules.event_name(rule.anchor, rule.event)
    horizon = rule.warn_before.after(now) + timedelta(days=1)
    bound = Limit(rule.duration, horizon).never
    for ids in vault.subjects_with_event_before(event, bound, batch=SUBJECT_BATCH):
        for subject_id, anchor_at in _pending(vault, rule, ids, event).items():
            due = rules.warning_due(rule, anchor_at, now)
            if due is None:
                continue
            report.due += 1
            if not dry_run:
                _warn_one(vault, rule, subject_id, anchor_at, due, now, mailer, report)
    return report


def _pending(vault: Vault, rule: RetentionRule, ids: list[str], event: str) -> dict[str, datetime]:
    """Anchor times of live, unrestricted subjects not yet warned for this anchor."""
    with Session(vault.engine) as s:
        rows = s.execute(
            select(EventRow.subject_id, EventRow.at)
            .join(SubjectRow, SubjectRow.id == EventRow.subject_id)
            .where(
                EventRow.subject_id.in_(ids),
                EventRow.event == event,
                SubjectRow.erased_at.is_(None),
                SubjectRow.restricted.is_(False),
            )
        ).all()
        warned = {
            (r[0], utc(r[1]))
            for r in s.execute(
                select(WarningRow.subject_id, WarningRow.anchor_at).where(
                    WarningRow.subject_id.in_(ids), WarningRow.rule_id == rule.id
                )
            )
        }
    return {r[0]: utc(r[1]) for r in rows if (r[0], utc(r[1])) not in warned}


def _warn_one(
    vault: Vault,
    rule: RetentionRule,
    subject_id: str,
    anchor_at: datetime,
    due: datetime,
    now: datetime,
    mailer: MailSender | None,
    report: WarningReport,
) -> None:
    purpose = purpose_for(vault.manifest, rule.categories)
    email = vault.identities(ACTOR, purpose, subject_id).get("email")
    if email is None or mailer is None:
        report.no_address += email is None
        report.failed += email is not None
        return
    key = (WarningRow.subject_id == subject_id) & (WarningRow.rule_id == rule.id)
    with vault.tx() as s:
        s.add(
            WarningRow(
                subject_id=subject_id, rule_id=rule.id, anchor_at=anchor_at, due_at=due, sent_at=now
            )
        )
    subject, text = message(vault.manifest, rule, due, now)
    try:
        mailer.send(email, subject, text)
    except Exception:  # the mail server failed: forget the row so the next run retries
        with vault.tx() as s:
            s.execute(delete(WarningRow).where(key, WarningRow.anchor_at == anchor_at))
        report.failed += 1
        return
    report.sent += 1
