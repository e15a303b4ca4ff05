"""Log-file retention (L8, P2): drop old lines, truncate old IPs, never lose a line that stays.

A :class:`~integritet.manifest.model.LogSource` names a path glob and a format:

- ``jsonl``: one JSON object per line; ``time_field`` and ``ip_field`` name the keys
  (dotted paths such as ``request.ip`` reach into nested objects);
- ``combined``: the Apache/nginx combined access-log format;
- ``regex``: a pattern with the named groups ``ts`` and ``ip``.

Lines older than ``retention`` are removed; IPs on lines older than ``ip_retention`` are
truncated (IPv4 to /24, the last octet set to 0; IPv6 to /48). Lines whose time cannot be read
are kept and counted. The glob also covers rotated (``.1``, ``-20240101``) and gzipped (``.gz``)
siblings of what it names.

Every file is read twice at most, line by line, so memory stays flat on big files: a read-only
scan decides whether anything changes; only then is a new file written next to the old one
(a hidden temp file in the same directory), flushed and fsynced, and moved over the original
with :func:`os.replace`. A crash at any point leaves either the old file or the new one, never a
half-written file. Gzipped files are rewritten gzipped. A process that keeps the log open (nginx)
must reopen it after a sweep, exactly as after a logrotate run.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import gzip
import ipaddress
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol, cast

from integritet.clock import utc
from integritet.errors import ConfigError
from integritet.manifest.model import Duration, LogFormat, LogSource

TEMP_PREFIX = ".integritet-tmp-"
COMBINED = r'^(?P<ip>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "'
_CLF_TIME = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)
_MONTHS = {
    m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
}
_ROTATED = re.compile(r"(\.\d+|-\d{8,10})(\.gz)?$|\.gz$")


# --------------------------------------------------------------------------- reports


@dataclass
class LogFileReport:
    """What a sweep found (and, unless a dry run, did) in one file. No line content."""

    path: str
    lines: int = 0
    removed: int = 0
    truncated: int = 0
    unparsed: int = 0
    oldest_kept: datetime | None = None
    rewritten: bool = False
    deleted: bool = False

    @property
    def changes(self) -> bool:
        return self.removed > 0 or self.truncated > 0


@dataclass
class LogSourceReport:
    source: str
    files: list[LogFileReport] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    @property
    def oldest_kept(self) -> datetime | None:
        times = [f.oldest_kept for f in self.files if f.oldest_kept is not None]
        return min(times) if times else None


# --------------------------------------------------------------------------- parsing


def parse_time(value: object) -> datetime | None:
    """A timestamp from ISO 8601, the access-log format or epoch seconds/milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    return _parse_text(value.strip())


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> datetime | None:
    match = _CLF_TIME.fullmatch(text)
    if match:
        day, month, year, hh, mm, ss, sign, oh, om = match.groups()
        offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
        try:
            local = datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss))
        except (KeyError, ValueError):
            return None
        return (local - offset).replace(tzinfo=UTC)
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return parse_time(float(text))
    except ValueError:
        return None


def truncate_ip(value: str) -> str:
    """IPv4 to its /24 network (last octet 0), IPv6 to its /48; anything else unchanged."""
    parts = value.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return ".".join((*parts[:3], "0"))  # the common case, without ipaddress's cost
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return value
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(network.network_address)


class Limit:
    """``duration.after(at) <= now``, answered without calendar arithmetic for most times."""

    def __init__(self, duration: Duration, now: datetime) -> None:
        self.duration = duration
        self.now = now
        if duration.unit in ("m", "y"):
            months = duration.amount * (12 if duration.unit == "y" else 1)
            self.surely = now - timedelta(days=months * 31 + 1)
            self.never = now - timedelta(days=months * 28 - 1)
        else:
            self.surely = self.never = now - (duration.after(now) - now)

    def expired(self, at: datetime) -> bool:
        if at <= self.surely:
            return True
        if at > self.never:
            return False
        return self.duration.after(at) <= self.now


class LineFormat(Protocol):
    def time_of(self, line: str) -> datetime | None: ...

    def truncate(self, line: str) -> str: ...


class RegexFormat:
    """Lines matched by a pattern with the named groups ``ts`` and ``ip``."""

    def __init__(self, pattern: str) -> None:
        try:
            self.pattern = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"log source pattern is not a valid regex: {exc}") from None
        missing = {"ts", "ip"} - set(self.pattern.groupindex)
        if missing:
            raise ConfigError(f"log source pattern needs the named groups ts and ip: {missing}")

    def time_of(self, line: str) -> datetime | None:
        match = self.pattern.search(line)
        return parse_time(match.group("ts")) if match else None

    def truncate(self, line: str) -> str:
        match = self.pattern.search(line)
        if not match or match.group("ip") is None:
            return line
        start, end = match.span("ip")
        return line[:start] + truncate_ip(match.group("ip")) + line[end:]


class JsonLinesFormat:
    """One JSON object per line, the time and IP under (dotted) keys."""

    def __init__(self, time_field: str, ip_field: str) -> None:
        self.time_path = time_field.split(".")
        self.ip_path = ip_field.split(".")

    @staticmethod
    def _get(obj: Any, path: list[str]) -> Any:
        for key in path:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
        return obj

    def time_of(self, line: str) -> datetime | None:
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        return parse_time(self._get(obj, self.time_path))

    def truncate(self, line: str) -> str:
        obj = json.loads(line)
        ip = self._get(obj, self.ip_path)
        if not isinstance(ip, str) or truncate_ip(ip) == ip:
            return line
        quoted = json.dumps(ip)
        if quoted in line:  # keep the line's own formatting; same-valued fields go too
            return line.replace(quoted, json.dumps(truncate_ip(ip)))
        parent = self._get(obj, self.ip_path[:-1]) if len(self.ip_path) > 1 else obj
        parent[self.ip_path[-1]] = truncate_ip(ip)
        return json.dumps(obj, ensure_ascii=False)


def line_format(source: LogSource) -> LineFormat:
    if source.format == LogFormat.jsonl:
        return JsonLinesFormat(source.time_field, source.ip_field)
    if source.format == LogFormat.combined:
        return RegexFormat(COMBINED)
    if not source.pattern:
        raise ConfigError(f"log source {source.id!r} has format regex but no pattern")
    return RegexFormat(source.pattern)


# --------------------------------------------------------------------------- files


def source_files(source: LogSource, base: Path | None = None) -> list[Path]:
    """The files a source covers: its glob plus rotated and gzipped siblings, sorted."""
    pattern = source.path
    if not os.path.isabs(pattern):
        pattern = str((base or Path.cwd()) / pattern)
    found: set[str] = set()
    for variant in (pattern, pattern + ".*", pattern + "-*"):
        found.update(glob.glob(variant))
    return sorted(
        Path(p) for p in found if os.path.isfile(p) and not Path(p).name.startswith(TEMP_PREFIX)
    )


def _open_read(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def _lines(handle: IO[bytes], follow: bool) -> Iterator[bytes]:
    """Every line; with ``follow``, lines appended while we read are included too."""
    while True:
        raw = handle.readline()
        if raw:
            yield raw
            continue
        if not follow or os.fstat(handle.fileno()).st_size <= handle.tell():
            return


class _Sweeper:
    """Decides, for one file, what happens to each line."""

    def __init__(self, source: LogSource, now: datetime) -> None:
        self.source = source
        self.fmt = line_format(source)
        self.now = utc(now)
        self.limit = Limit(source.retention, self.now)
        ip_limit = source.ip_retention
        self.ip_limit = Limit(ip_limit, self.now) if ip_limit is not None else None

    def handle(self, raw: bytes, report: LogFileReport) -> bytes | None:
        """The line to write (maybe truncated), or None when it is removed."""
        report.lines += 1
        text = raw.decode("utf-8", "surrogateescape")
        body = text.rstrip("\r\n")
        at = self.fmt.time_of(body) if body else None
        if at is None:
            report.unparsed += 1
            return raw
        if self.limit.expired(at):
            report.removed += 1
            return None
        if report.oldest_kept is None or at < report.oldest_kept:
            report.oldest_kept = at
        if self.ip_limit is not None and self.ip_limit.expired(at):
            new = self.fmt.truncate(body)
            if new != body:
                report.truncated += 1
                return (new + text[len(body) :]).encode("utf-8", "surrogateescape")
        return raw


def sweep_file(
    path: Path, source: LogSource, now: datetime, *, dry_run: bool = False
) -> LogFileReport:
    """Scan one file; unless ``dry_run``, rewrite it crash-safely when anything changes."""
    sweeper = _Sweeper(source, now)
    scan = LogFileReport(str(path))
    with _open_read(path) as handle:
        for raw in _lines(handle, follow=False):
            sweeper.handle(raw, scan)
    if dry_run or not scan.changes:
        return scan
    kept = scan.lines - scan.removed
    if kept == 0 and _ROTATED.search(path.name):
        path.unlink()
        _fsync_dir(path.parent)
        scan.deleted = True
        return scan
    return _rewrite(path, sweeper)


def _rewrite(path: Path, sweeper: _Sweeper) -> LogFileReport:
    report = LogFileReport(str(path), rewritten=True)
    info = path.stat()
    fd, tmp_name = _temp_file(path)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw_out, _open_read(path) as src:
            out: IO[bytes] | gzip.GzipFile = raw_out
            gz = None
            if path.suffix == ".gz":
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw_out, mtime=0)
                out = gz
            for raw in _lines(src, follow=path.suffix != ".gz"):
                line = sweeper.handle(raw, report)
                if line is not None:
                    out.write(line)
            if gz is not None:
                gz.close()
            raw_out.flush()
            os.fsync(raw_out.fileno())
        _copy_owner_and_mode(tmp, info)
        replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)
    return report


def _temp_file(path: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)


def replace(src: Path, dst: Path) -> None:
    """Atomically move ``src`` over ``dst`` (a seam so tests can simulate a crash here)."""
    os.replace(src, dst)


def _copy_owner_and_mode(tmp: Path, info: os.stat_result) -> None:
    os.chmod(tmp, stat.S_IMODE(info.st_mode))
    with contextlib.suppress(PermissionError, AttributeError):
        os.chown(tmp, info.st_uid, info.st_gid)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(directory: Path) -> int:
    """Delete temp files a crashed sweep left behind; their originals are intact."""
    removed = 0
    for stale in directory.glob(TEMP_PREFIX + "*"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
            removed += 1
    return removed


def sweep_source(
    source: LogSource,
    now: datetime,
    *,
    dry_run: bool = False,
    base: Path | None = None,
    progress: Callable[[Path], None] | None = None,
) -> LogSourceReport:
    """Sweep every file of one log source."""
    files = source_files(source, base)
    report = LogSourceReport(source.id)
    if not dry_run:
        for directory in {p.parent for p in files}:
            remove_stale_temps(directory)
    for path in files:
        report.files.append(sweep_file(path, source, now, dry_run=dry_run))
        if progress is not None:
            progress(path)
    return report
