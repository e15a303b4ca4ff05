"""Telemetry retention: raw readings are folded into hourly and daily statistics, then deleted.

``telemetry.raw_retention`` (default 90 days) bounds raw readings. A reading older than
that (the cut-off is rounded down to the hour) is added to two aggregates — its hour and
its day — holding count, count of numbers, min, max and sum per machine and name (the
average is sum / count of numbers), and deleted in the same transaction, chunk by chunk, so
a crash never loses or double-counts a reading. Aggregates are merged, so a day split
over several runs still adds up. ``telemetry.aggregate_retention`` (when set) bounds the
aggregates in turn: a bucket goes once it has ended that long ago.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.clock import utc
from integritet.manifest.model import Duration
from integritet.telemetry.core import Telemetry
from integritet.telemetry.models import AggregateRow, ReadingRow

ACTOR = Actor.system("telemetry.retention")
BATCH = 5000
PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

Key = tuple[str, str, str, datetime]  # machine, name, period, start


@dataclass
class RetentionResult:
    now: datetime
    cutoff: datetime  # raw readings before this are aggregated and deleted
    aggregate_cutoff: datetime | None
    dry_run: bool
    readings: int = 0  # due (dry run) or deleted
    buckets: int = 0  # aggregate rows written or updated
    aggregates: int = 0  # aggregate rows due (dry run) or deleted

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "cutoff": self.cutoff.isoformat(),
            "aggregate_cutoff": self.aggregate_cutoff.isoformat()
            if self.aggregate_cutoff
            else None,
            "dry_run": self.dry_run,
            "readings": self.readings,
            "buckets": self.buckets,
            "aggregates": self.aggregates,
        }


def before(duration: Duration, now: datetime) -> datetime:
    """``now`` minus ``duration`` (calendar months and years, month ends clamped)."""
    if duration.unit in ("min", "h", "d", "w"):
        return now - (duration.after(now) - now)
    months = duration.amount * (12 if duration.unit == "y" else 1)
    year, month0 = divmod(now.month - 1 - months, 12)
    year += now.year
    day = now.day
    while True:
        try:
            return now.replace(year=year, month=month0 + 1, day=day)
        except ValueError:  # 31 March - 1 month: clamp to the month's last day
            day -= 1


def bucket(at: datetime, period: str) -> datetime:
    """The start of the hour or UTC day ``at`` falls in."""
    start = utc(at).replace(minute=0, second=0, microsecond=0)
    return start if period == "hour" else start.replace(hour=0)


def run_retention(
    telemetry: Telemetry,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    progress: Any = None,
) -> RetentionResult:
    """Aggregate and delete expired readings, then delete expired aggregates."""
    config = telemetry.config
    now = utc(now or telemetry.now())
    cutoff = bucket(before(config.raw_retention, now), "hour")
    agg_cutoff = before(config.aggregate_retention, now) if config.aggregate_retention else None
    result = RetentionResult(now, cutoff, agg_cutoff, dry_run)
    if dry_run:
        _count_due(telemetry, result)
        return result
    while True:
        done = _fold_chunk(telemetry, cutoff, batch, result)
        if progress is not None and done:
            progress(done)
        if done < batch:
            break
    if agg_cutoff is not None:
        with Session(telemetry.engine) as s, s.begin():
            for period, length in PERIODS.items():
                gone = s.connection().execute(
                    delete(AggregateRow).where(
                        AggregateRow.period == period, AggregateRow.start <= agg_cutoff - length
                    )
                )
                result.aggregates += gone.rowcount
    telemetry.emit(
        None,
        ACTOR,
        "telemetry.retention",
        "done",
        detail={
            "cutoff": cutoff.isoformat(),
            "readings_deleted": result.readings,
            "buckets": result.buckets,
            "aggregates_deleted": result.aggregates,
        },
    )
    return result


def _count_due(telemetry: Telemetry, result: RetentionResult) -> None:
    with Session(telemetry.engine) as s:
        result.readings = int(
            s.scalar(select(func.count()).where(ReadingRow.at < result.cutoff)) or 0
        )
        if result.aggregate_cutoff is not None:
            for period, length in PERIODS.items():
                result.aggregates += int(
                    s.scalar(
                        select(func.count()).where(
                            AggregateRow.period == period,
                            AggregateRow.start <= result.aggregate_cutoff - length,
                        )
                    )
                    or 0
                )


def _fold_chunk(telemetry: Telemetry, cutoff: datetime, batch: int, result: RetentionResult) -> int:
    """Aggregate and delete one chunk of expired readings in one transaction."""
    with Session(telemetry.engine) as s, s.begin():
        rows = s.execute(
            select(
                ReadingRow.id, ReadingRow.machine_id, ReadingRow.name, ReadingRow.at, ReadingRow.num
            )
            .where(ReadingRow.at < cutoff)
            .order_by(ReadingRow.id)
            .limit(batch)
        ).all()
        if not rows:
            return 0
        result.buckets += _merge(s, _fold(rows))
        s.execute(delete(ReadingRow).where(ReadingRow.id.in_([r[0] for r in rows])))
    result.readings += len(rows)
    return len(rows)


def _fold(rows: Sequence[Any]) -> dict[Key, list[Any]]:
    """count, num_count, min, max, sum per (machine, name, period, start)."""
    stats: dict[Key, list[Any]] = {}
    for _id, machine, name, at, num in rows:
        for period in PERIODS:
            key = (machine, name, period, bucket(at, period))
            s = stats.get(key)
            if s is None:
                s = stats[key] = [0, 0, None, None, None]
            s[0] += 1
            if num is not None:
                s[1] += 1
                s[2] = num if s[2] is None else min(s[2], num)
                s[3] = num if s[3] is None else max(s[3], num)
                s[4] = num if s[4] is None else s[4] + num
    return stats


def _merge(s: Session, stats: dict[Key, list[Any]]) -> int:
    """Add ``stats`` to the stored aggregates (insert or update); return rows touched."""
    machines = {k[0] for k in stats}
    starts = [k[3] for k in stats]
    existing = {
        (r.machine_id, r.name, r.period, utc(r.start)): r
        for r in s.scalars(
            select(AggregateRow).where(
                AggregateRow.machine_id.in_(machines),
                AggregateRow.start >= min(starts),
                AggregateRow.start <= max(starts),
            )
        )
    }
    for key, (count, num_count, low, high, total) in stats.items():
        row = existing.get(key)
        if row is None:
            s.add(
                AggregateRow(
                    machine_id=key[0],
                    name=key[1],
                    period=key[2],
                    start=key[3],
                    count=count,
                    num_count=num_count,
                    min=low,
                    max=high,
                    sum=total,
                )
            )
            continue
        row.count += count
        row.num_count += num_count
        row.min = _pick(min, row.min, low)
        row.max = _pick(max, row.max, high)
        row.sum = total if row.sum is None else row.sum if total is None else row.sum + total
    return len(stats)


def _pick(fn: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(fn(a, b))
