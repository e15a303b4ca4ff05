from __future__ import annotations

import gzip
import json
import os
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integritet.errors import ConfigError
from integritet.manifest.model import Duration, LogFormat, LogSource
from integritet.retention import logs
from integritet.retention.logs import (
    parse_time,
    source_files,
    sweep_file,
    sweep_source,
    truncate_ip,
)

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def clf(at: datetime, ip: str, path: str = "/") -> str:
    stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" 200 512 "-" "curl/8.0"\n'


def combined_source(
    path: Path, retention: str = "3y", ip_retention: str | None = None
) -> LogSource:
    return LogSource(
        id="web",
        path=str(path),
        format=LogFormat.combined,
        retention=Duration.parse(retention),
        ip_retention=Duration.parse(ip_retention) if ip_retention else None,
    )


def test_truncate_ip_v4_v6_and_garbage() -> None:
    assert truncate_ip("192.168.17.201") == "192.168.17.0"
    assert truncate_ip("2001:db8:abcd:12:1:2:3:4") == "2001:db8:abcd::"
    assert truncate_ip("-") == "-"
    assert truncate_ip("host.example") == "host.example"


def test_parse_time_formats() -> None:
    assert parse_time("2024-03-01T10:00:00Z") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert parse_time("01/Mar/2024:12:00:00 +0200") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert parse_time(1709287200) == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert parse_time(1709287200000) == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert parse_time("1709287200") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert parse_time("yesterday") is None
    assert parse_time(True) is None
    assert parse_time(None) is None


def test_plain_combined_old_lines_removed_unparsed_kept(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    old = clf(NOW - timedelta(days=4 * 365), "10.0.0.1")
    fresh = clf(NOW - timedelta(days=10), "10.0.0.2")
    log.write_text(old + "garbage line without a time\n" + fresh)
    os.chmod(log, 0o640)

    report = sweep_file(log, combined_source(log), NOW)

    assert (report.lines, report.removed, report.unparsed) == (3, 1, 0 + 1)
    assert report.rewritten
    assert log.read_text() == "garbage line without a time\n" + fresh
    assert oct(log.stat().st_mode & 0o777) == oct(0o640)
    assert report.oldest_kept == (NOW - timedelta(days=10)).replace(microsecond=0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(logs.TEMP_PREFIX)]


def test_ip_truncated_after_shorter_limit(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    month_old = clf(NOW - timedelta(days=40), "203.0.113.77", "/a")
    today = clf(NOW - timedelta(hours=1), "203.0.113.78", "/b")
    log.write_text(month_old + today)

    report = sweep_file(log, combined_source(log, "1y", "30d"), NOW)

    assert (report.removed, report.truncated) == (0, 1)
    lines = log.read_text().splitlines(keepends=True)
    assert lines[0] == month_old.replace("203.0.113.77", "203.0.113.0")
    assert lines[1] == today
    again = sweep_file(log, combined_source(log, "1y", "30d"), NOW)
    assert not again.changes and not again.rewritten


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    content = clf(NOW - timedelta(days=2000), "10.0.0.1") + clf(NOW, "10.0.0.2")
    log.write_text(content)
    mtime = log.stat().st_mtime_ns

    report = sweep_file(log, combined_source(log), NOW, dry_run=True)

    assert report.removed == 1 and not report.rewritten
    assert log.read_text() == content
    assert log.stat().st_mtime_ns == mtime


def test_rotated_and_gz_files(tmp_path: Path) -> None:
    active = tmp_path / "access.log"
    rotated = tmp_path / "access.log.1"
    zipped = tmp_path / "access.log.2.gz"
    expired = tmp_path / "access.log.3.gz"
    keep = clf(NOW - timedelta(days=100), "10.1.1.1")
    drop = clf(NOW - timedelta(days=1200), "10.1.1.2")
    active.write_text(keep)
    rotated.write_text(drop + keep)
    with gzip.open(zipped, "wt") as fh:
        fh.write(drop + keep + keep)
    with gzip.open(expired, "wt") as fh:
        fh.write(drop)
    source = combined_source(tmp_path / "access.log", "3y", "90d")

    assert source_files(source) == [active, rotated, zipped, expired]
    report = sweep_source(source, NOW)

    assert report.total("removed") == 3
    assert report.total("truncated") == 4
    truncated = keep.replace("10.1.1.1", "10.1.1.0")
    assert active.read_text() == truncated
    assert rotated.read_text() == truncated
    with gzip.open(zipped, "rt") as fh:
        assert fh.read() == truncated * 2
    assert not expired.exists()
    assert [f.deleted for f in report.files] == [False, False, False, True]


def test_jsonl_nested_fields_and_formatting_kept(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    rows = [
        {"at": (NOW - timedelta(days=800)).isoformat(), "req": {"ip": "198.51.100.9"}, "n": 1},
        {"at": (NOW - timedelta(days=60)).isoformat(), "req": {"ip": "2001:db8:1:2::9"}, "n": 2},
        {"at": (NOW - timedelta(days=1)).isoformat(), "req": {"ip": "198.51.100.10"}, "n": 3},
    ]
    log.write_text("".join(json.dumps(r, indent=None) + "\n" for r in rows) + "{not json\n")
    source = LogSource(
        id="app",
        path=str(log),
        format=LogFormat.jsonl,
        time_field="at",
        ip_field="req.ip",
        retention=Duration.parse("2y"),
        ip_retention=Duration.parse("30d"),
    )

    report = sweep_source(source, NOW)

    assert (report.total("removed"), report.total("truncated"), report.total("unparsed")) == (
        1,
        1,
        1,
    )
    lines = log.read_text().splitlines()
    assert json.loads(lines[0])["req"]["ip"] == "2001:db8:1::"
    assert lines[0] == json.dumps({**rows[1], "req": {"ip": "2001:db8:1::"}})
    assert json.loads(lines[1]) == rows[2]
    assert lines[2] == "{not json"


def test_regex_format(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    old = (NOW - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S")
    new = NOW.strftime("%Y-%m-%dT%H:%M:%S")
    log.write_text(f"{old} login ok from 192.0.2.44 user=7\n{new} login ok from 192.0.2.45\n")
    source = LogSource(
        id="auth",
        path=str(log),
        format=LogFormat.regex,
        pattern=r"^(?P<ts>\S+) .* from (?P<ip>\S+)",
        retention=Duration.parse("1y"),
        ip_retention=Duration.parse("7d"),
    )

    report = sweep_source(source, NOW)

    assert report.total("truncated") == 1
    assert log.read_text() == (
        f"{old} login ok from 192.0.2.0 user=7\n{new} login ok from 192.0.2.45\n"
    )


def test_regex_without_groups_is_a_config_error(tmp_path: Path) -> None:
    source = LogSource(
        id="bad", path=str(tmp_path / "x"), format=LogFormat.regex, pattern=r"(\S+)",
        retention=Duration.parse("1y"),
    )  # fmt: skip
    with pytest.raises(ConfigError, match="named groups"):
        logs.line_format(source)


def test_crash_between_write_and_rename_leaves_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "access.log.1.gz"
    content = clf(NOW - timedelta(days=2000), "10.0.0.1") + clf(NOW, "10.0.0.2")
    with gzip.open(log, "wt") as fh:
        fh.write(content)

    def crash(src: Path, dst: Path) -> None:
        raise KeyboardInterrupt  # as abrupt as it gets inside Python

    monkeypatch.setattr(logs, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        sweep_file(log, combined_source(tmp_path / "access.log"), NOW)
    with gzip.open(log, "rt") as fh:
        assert fh.read() == content
    assert [p.name for p in tmp_path.iterdir()] == [log.name]

    # A hard kill would leave the temp file behind: the next sweep cleans it and finishes.
    (tmp_path / f"{logs.TEMP_PREFIX}access.log.1.gz.abc").write_bytes(b"partial")
    monkeypatch.undo()
    report = sweep_source(combined_source(tmp_path / "access.log"), NOW)
    assert report.total("removed") == 1
    assert [p.name for p in tmp_path.iterdir()] == [log.name]
    with gzip.open(log, "rt") as fh:
        assert fh.read() == clf(NOW, "10.0.0.2")


def test_memory_stays_flat_on_a_big_file(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    old = clf(NOW - timedelta(days=2000), "10.0.0.1")
    new = clf(NOW - timedelta(days=40), "10.0.0.2", "/" + "x" * 100)
    with open(log, "w") as fh:
        for _ in range(15_000):
            fh.write(old)
            fh.write(new)
    size = log.stat().st_size
    tracemalloc.start()
    report = sweep_file(log, combined_source(log, "3y", "30d"), NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (report.removed, report.truncated) == (15_000, 15_000)
    assert size > 3_000_000
    assert peak < 1_000_000


@given(
    amount=st.integers(min_value=0, max_value=40),
    unit=st.sampled_from(["min", "h", "d", "w", "m", "y"]),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
    back=st.integers(min_value=0, max_value=40 * 366 * 86400),
)
def test_limit_agrees_with_duration_after(amount: int, unit: str, now: datetime, back: int) -> None:
    duration = Duration.parse(f"{amount}{unit}")
    now = now.replace(tzinfo=UTC)
    at = now - timedelta(seconds=back)
    assert logs.Limit(duration, now).expired(at) == (duration.after(at) <= now)
