"""Retention that really deletes: rules by anchor event, legal holds, log files, dry runs.

    report = plan(manifest, vault, clock)            # what is due; changes nothing
    report = run(manifest, vault, clock)             # do it: delete / anonymise / shred
    stop = threading.Event()
    schedule_daily(lambda: run(manifest, vault, SystemClock()), stop)   # inside a server

One run: warnings first (``warn_before``), then every rule against the vault
(:mod:`.sweep`), expired legal holds of erased subjects, the manifest's log files
(:mod:`.logs`) and the company's own dataset tables that name a timestamp column
(through :class:`integritet.connectors.sql.SQLConnector`). See ``docs/retention.md``.
For cron, run ``integritet retention run --policy policy.yaml`` once a day.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integritet.clock import Clock, utc
from integritet.errors import IntegritetError
from integritet.mail import MailSender
from integritet.manifest.model import Anchor, DatasetTable, Manifest, RetentionRule
from integritet.retention import logs, rules, sweep, warn
from integritet.retention.logs import LogSourceReport
from integritet.retention.sweep import RuleReport
from integritet.retention.warn import WarningReport
from integritet.vault import Vault

if TYPE_CHECKING:
    from integritet.connectors.sql import SQLConnector

__all__ = [
    "DatasetReport",
    "RetentionReport",
    "RuleReport",
    "plan",
    "run",
    "schedule_daily",
]

Progress = Callable[[str, int], None]


@dataclass
class DatasetReport:
    dataset: str
    table: str
    rule: str
    before: datetime
    due: int = 0
    deleted: int = 0
    nulled: int = 0
    held: int = 0
    error: str | None = None


@dataclass
class RetentionReport:
    """What is due and what was done. Counts, ids and dates only: no personal data."""

    now: datetime
    dry_run: bool
    rules: list[RuleReport] = field(default_factory=list)
    warnings: list[WarningReport] = field(default_factory=list)
    erased_subjects: int = 0
    purged_holds: int = 0
    logs: list[LogSourceReport] = field(default_factory=list)
    datasets: list[DatasetReport] = field(default_factory=list)

    @property
    def due(self) -> int:
        return sum(r.due for r in self.rules)

    @property
    def done(self) -> int:
        return sum(r.done for r in self.rules)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for source, report in zip(out["logs"], self.logs, strict=True):
            source["removed"] = report.total("removed")
            source["truncated"] = report.total("truncated")
            source["unparsed"] = report.total("unparsed")
        out["due"], out["done"] = self.due, self.done
        return out


def plan(manifest: Manifest, vault: Vault, clock: Clock, **kwargs: Any) -> RetentionReport:
    """What a run would do now; changes nothing (no deletes, no emails, no log rewrites)."""
    return run(manifest, vault, clock, dry_run=True, **kwargs)


def run(
    manifest: Manifest,
    vault: Vault,
    clock: Clock,
    dry_run: bool = False,
    *,
    mailer: MailSender | None = None,
    log_base: Path | None = None,
    environ: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> RetentionReport:
    """Apply every retention rule of ``manifest`` at ``clock.now()``.

    ``mailer`` sends warnings (none sent without one); ``log_base`` resolves relative log
    paths (default: the working directory); ``environ`` holds dataset URL variables;
    ``progress(stage, n)`` is called as work advances (the CLI draws a bar from it).
    """
    now = utc(clock.now())
    report = RetentionReport(now=now, dry_run=dry_run)
    totals = sweep.SweepTotals()
    for rule in manifest.retention:
        report.warnings.append(warn.send_warnings(vault, rule, now, mailer, dry_run=dry_run))
    for rule in manifest.retention:
        step = (lambda n, r=rule.id: progress(r, n)) if progress else None
        sweep.sweep_rule(vault, rule, now, dry_run=dry_run, totals=totals, progress=step)
        totals.erased_subjects += sweep.subjects_to_erase_by_event(
            vault, rule, now, dry_run=dry_run
        )
    report.rules = totals.reports
    report.erased_subjects = totals.erased_subjects
    report.purged_holds = sweep.expired_holds(vault, now, dry_run=dry_run)
    for source in manifest.log_sources:
        file_step = (lambda _p, s=source.id: progress(f"log:{s}", 1)) if progress else None
        report.logs.append(
            logs.sweep_source(source, now, dry_run=dry_run, base=log_base, progress=file_step)
        )
    report.datasets = sweep_datasets(manifest, now, dry_run=dry_run, environ=environ)
    return report


# --------------------------------------------------------------------------- datasets


def _dataset_rule(manifest: Manifest, table: DatasetTable) -> RetentionRule | None:
    """The shortest rule on one of the table's categories whose anchor is the table's
    (``collected`` when the map names none): the timestamp column is that anchor."""
    cats = {c.category for c in table.columns.values() if c.category}
    anchor = table.anchor or Anchor.collected
    found = [r for r in manifest.retention if cats & set(r.categories) and r.anchor == anchor]
    return min(found, key=lambda r: r.duration.approx_days()) if found else None


def sweep_datasets(
    manifest: Manifest,
    now: datetime,
    *,
    dry_run: bool,
    environ: Mapping[str, str] | None = None,
) -> list[DatasetReport]:
    """Rows past the rule in tables whose map names a ``timestamp`` column.

    Rows the map puts under a hold (``erase: hold``) are kept, as in an erasure request.
    A dataset whose URL is not configured is reported with ``error`` and skipped.
    """
    from integritet.connectors.sql import SQLConnector, dataset_url

    out: list[DatasetReport] = []
    for dataset in manifest.datasets:
        tables = [(t, _dataset_rule(manifest, t)) for t in dataset.tables if t.timestamp]
        due_tables = [(t, r) for t, r in tables if r is not None]
        if not due_tables:
            continue
        try:
            conn = SQLConnector(dataset, dataset_url(dataset, environ), manifest=manifest)
        except IntegritetError as exc:
            out.append(DatasetReport(dataset.id, "*", "", now, error=exc.message))
            continue
        try:
            for table, rule in due_tables:
                assert rule is not None
                out.append(_sweep_table(conn, dataset.id, table.name, rule, now, dry_run))
        finally:
            conn.close()
    return out


def _sweep_table(
    conn: SQLConnector, dataset: str, table: str, rule: RetentionRule, now: datetime, dry: bool
) -> DatasetReport:
    cutoff = rules.before(rule.duration, now)
    item = DatasetReport(dataset, table, rule.id, cutoff)
    item.due = len(conn.expired(table, cutoff))
    if not dry and item.due:
        totals = conn.erase_expired(table, cutoff).totals()
        item.deleted, item.held = totals["deleted"], totals["held"]
        item.nulled = totals["nulled"] + totals["masked"]
    return item


# --------------------------------------------------------------------------- schedule


def schedule_daily(
    job: Callable[[], object],
    stop: threading.Event,
    *,
    at: str = "03:00",
    clock: Clock | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    poll_seconds: float = 60.0,
) -> threading.Thread:
    """Run ``job`` once a day at ``at`` (UTC ``HH:MM``) in a daemon thread until ``stop``.

    A failing job is reported to ``on_error`` and retried the next day. ``integritet serve``
    uses this; without a server, run ``integritet retention run`` from cron instead.
    """
    from integritet.clock import SystemClock

    hour, minute = (int(x) for x in at.split(":"))
    time_source = clock or SystemClock()

    def next_run(after: datetime) -> datetime:
        candidate = after.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return candidate if candidate > after else candidate + timedelta(days=1)

    def loop() -> None:
        due = next_run(utc(time_source.now()))
        while not stop.is_set():
            if utc(time_source.now()) >= due:
                try:
                    job()
                except Exception as exc:
                    if on_error is not None:
                        on_error(exc)
                due = next_run(utc(time_source.now()))
            stop.wait(poll_seconds)

    thread = threading.Thread(target=loop, name="integritet-retention", daemon=True)
    thread.start()
    return thread
