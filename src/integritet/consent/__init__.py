"""Consent and communication preferences with proof (issue 5).

- :mod:`ledger`: the append-only ledger and ``may_contact``;
- :mod:`links`: signed one-click unsubscribe links;
- :mod:`transfer`: CSV import/export keeping the original evidence.
"""

from integritet.consent.ledger import (
    ConsentCurrent,
    ConsentEvent,
    ConsentLedger,
    ConsentSource,
    ConsentState,
    CurrentConsent,
    Decision,
    Evidence,
    ReconsentRequired,
    text_hash,
)
from integritet.consent.links import UnsubscribeLinks, UnsubscribeTarget
from integritet.consent.transfer import CSV_COLUMNS, ImportReport, export_rows, import_csv

__all__ = [
    "CSV_COLUMNS",
    "ConsentCurrent",
    "ConsentEvent",
    "ConsentLedger",
    "ConsentSource",
    "ConsentState",
    "CurrentConsent",
    "Decision",
    "Evidence",
    "ImportReport",
    "ReconsentRequired",
    "UnsubscribeLinks",
    "UnsubscribeTarget",
    "export_rows",
    "import_csv",
    "text_hash",
]
