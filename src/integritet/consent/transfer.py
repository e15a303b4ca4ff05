"""Import and export of consents as CSV, for moving from (or to) a newsletter tool."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from integritet.clock import utc
from integritet.consent.ledger import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.errors import ConsentError

CSV_COLUMNS = (
    "email",
    "purpose",
    "channel",
    "state",
    "at",
    "policy_version",
    "text",
    "text_sha256",
    "source",
    "ip",
    "user_agent",
)


@dataclass
class ImportReport:
    imported: int = 0
    errors: list[str] | None = None

    def add_error(self, row: int, message: str) -> None:
        if self.errors is None:
            self.errors = []
        self.errors.append(f"row {row}: {message}")


def import_csv(
    ledger: ConsentLedger,
    rows: Iterable[dict[str, str]],
    resolve: Callable[[str], str | None],
) -> ImportReport:
    """Import consents from a newsletter tool, each keeping its original evidence.

    ``resolve`` maps an email address to a subject id (or None when unknown).
    Bad rows are reported by row number (counting the header as row 1) and skipped.
    """
    report = ImportReport()
    for number, row in enumerate(rows, start=2):
        try:
            subject = resolve((row.get("email") or "").strip())
            if subject is None:
                report.add_error(number, "no subject with that email")
                continue
            state = ConsentState((row.get("state") or "").strip())
            raw_at = (row.get("at") or "").strip()
            at = datetime.fromisoformat(raw_at) if raw_at else None
            evidence = Evidence(
                ConsentSource.import_,
                (row.get("policy_version") or "").strip() or "unknown",
                text=row.get("text") or None,
                ip=row.get("ip") or None,
                user_agent=row.get("user_agent") or None,
            )
            event_id = ledger.record(
                subject,
                (row.get("purpose") or "").strip(),
                (row.get("channel") or "").strip(),
                state,
                evidence,
                at=at,
            )
            digest = (row.get("text_sha256") or "").strip()
            if digest and not row.get("text"):
                ledger.set_text_hash(event_id, digest)
            report.imported += 1
        except (ValueError, ConsentError) as exc:
            message = exc.message if isinstance(exc, ConsentError) else "bad state or timestamp"
            report.add_error(number, message)
    return report


def export_rows(
    ledger: ConsentLedger, subjects: Iterable[str], email_of: Callable[[str], str | None]
) -> Iterable[dict[str, str]]:
    """The consent history of ``subjects`` as CSV rows (sealed evidence is not exported)."""
    for subject in subjects:
        email = email_of(subject) or ""
        for ev in ledger.history(subject):
            yield {
                "email": email,
                "purpose": ev.purpose,
                "channel": ev.channel,
                "state": ev.state,
                "at": utc(ev.at).isoformat(),
                "policy_version": ev.policy_version,
                "text": "",
                "text_sha256": ev.text_sha256 or "",
                "source": ev.source,
                "ip": "",
                "user_agent": "",
            }
