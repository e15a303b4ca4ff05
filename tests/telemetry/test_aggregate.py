"""Telemetry retention: hourly/daily statistics survive the deletion of raw readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integritet.access import Actor
from integritet.clock import FixedClock
from integritet.manifest.model import Duration
from integritet.telemetry.aggregate import before, bucket, run_retention

from .conftest import ADMIN, Fleet

OLD_DAY = datetime(2025, 9, 1, tzinfo=UTC)
READER = Actor.system("ops")


def _ingest(fleet: Fleet) -> None:
    records = [
        {"machine": "cm-1", "at": (OLD_DAY + timedelta(hours=10, minutes=m)).isoformat(),
         "boiler_temp": 80.0 + m}
        for m in range(0, 60, 6)
    ]  # fmt: skip
    records += [
        {"machine": "cm-1", "at": (OLD_DAY + timedelta(hours=14)).isoformat(),
         "boiler_temp": 70.0, "firmware": "2.14.3"},
        {"machine": "cm-2", "at": (OLD_DAY + timedelta(hours=10)).isoformat(), "brew_count": 5},
        {"machine": "cm-1", "at": "2026-01-10T08:00:00Z", "boiler_temp": 99.0},
    ]  # fmt: skip
    assert fleet.telemetry.ingest(ADMIN, records).readings == 14


def test_expired_readings_become_hourly_and_daily_statistics(
    fleet: Fleet, clock: FixedClock
) -> None:
    _ingest(fleet)
    dry = run_retention(fleet.telemetry, dry_run=True)
    assert (dry.readings, dry.buckets) == (13, 0)
    assert fleet.telemetry.count_readings() == 14  # a dry run changes nothing
    assert fleet.telemetry.aggregates(READER, "cm-1", "service") == []
    result = run_retention(fleet.telemetry, batch=4)
    assert result.readings == 13 and result.cutoff == datetime(2025, 10, 17, 9, tzinfo=UTC)
    assert fleet.telemetry.count_readings() == 1  # the recent one stays raw
    hours = fleet.telemetry.aggregates(READER, "cm-1", "service", period="hour")
    by_key = {(a.name, a.start.hour): a for a in hours}
    ten = by_key[("boiler_temp", 10)]
    assert (ten.count, ten.num_count, ten.min, ten.max) == (10, 10, 80.0, 134.0)
    assert ten.sum == pytest.approx(1070.0) and ten.avg == pytest.approx(107.0)
    firmware = by_key[("firmware", 14)]
    assert (firmware.count, firmware.num_count, firmware.avg) == (1, 0, None)
    [day_temp] = [
        a
        for a in fleet.telemetry.aggregates(READER, "cm-1", "service", period="day")
        if a.name == "boiler_temp"
    ]
    assert (day_temp.start, day_temp.count, day_temp.min, day_temp.max) == (OLD_DAY, 11, 70, 134)
    assert fleet.telemetry.aggregates(READER, "cm-2", "service")[0].sum == 5.0


def test_a_day_split_over_two_runs_adds_up(fleet: Fleet, clock: FixedClock) -> None:
    _ingest(fleet)
    first = run_retention(fleet.telemetry, OLD_DAY + timedelta(days=90, hours=12))
    assert first.readings == 11  # 10:00-10:59 on both machines; 14:00 not yet due
    run_retention(fleet.telemetry, OLD_DAY + timedelta(days=91))
    days = fleet.telemetry.aggregates(READER, "cm-1", "service", period="day")
    temp = next(a for a in days if a.name == "boiler_temp")
    assert (temp.count, temp.min, temp.max, temp.sum) == (11, 70.0, 134.0, 1140.0)


def test_aggregates_expire_after_aggregate_retention(fleet: Fleet) -> None:
    _ingest(fleet)
    run_retention(fleet.telemetry)
    later = datetime(2027, 9, 3, tzinfo=UTC)  # 2y after the old day ended (+ margin)
    dry = run_retention(fleet.telemetry, later, dry_run=True)
    assert dry.aggregates > 0
    result = run_retention(fleet.telemetry, later)
    assert result.aggregates == dry.aggregates
    left = fleet.telemetry.aggregates(READER, "cm-1", "service", period="hour")
    assert [a.start for a in left] == [datetime(2026, 1, 10, 8, tzinfo=UTC)]  # raw until now


def test_before_subtracts_calendar_units() -> None:
    at = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert before(Duration.parse("1m"), at) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert before(Duration.parse("2y"), at) == datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert before(Duration.parse("90d"), at) == at - timedelta(days=90)
    assert before(Duration.parse("13m"), at) == datetime(2025, 2, 28, 12, tzinfo=UTC)
    assert bucket(datetime(2026, 1, 1, 13, 45, 7, tzinfo=UTC), "day") == datetime(
        2026, 1, 1, tzinfo=UTC
    )
