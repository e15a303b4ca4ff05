"""Connected machines: telemetry kept apart from personal data (C1-C4, L2, L9).

- :mod:`models`: sites, machines, readings, aggregates (no personal data, no link to a person);
- :mod:`guard`: the collection guard (card, financial, sensitive data refused or stripped);
- :mod:`ingest`: batched ingestion with per-record outcomes;
- :mod:`core`: registration, access for assigned staff, queries bounded by purpose;
- :mod:`notify`: alarms and status only to contacts who consented per category and channel;
- :mod:`aggregate`: retention with hourly/daily aggregation before deletion.

See ``docs/telemetry.md``.
"""

from integritet.telemetry.core import Telemetry
from integritet.telemetry.guard import CollectionGuard, FieldDecision
from integritet.telemetry.open import open_telemetry, telemetry_engine
from integritet.telemetry.results import (
    Aggregate,
    IngestResult,
    Machine,
    Reading,
    RecordOutcome,
    Site,
)

__all__ = [
    "Aggregate",
    "CollectionGuard",
    "FieldDecision",
    "IngestResult",
    "Machine",
    "Reading",
    "RecordOutcome",
    "Site",
    "Telemetry",
    "open_telemetry",
    "telemetry_engine",
]
