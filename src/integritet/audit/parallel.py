"""Verify on SQLite in worker processes: disjoint ranges of positions, seams checked in order.

Each range ``a..b`` is walked by :class:`~integritet.audit.chain.ChainWalker` (the same
check as one pass) in a forked worker with its own read-only connection, starting from the
link its first row carries. A range reports whether it is intact, that first link and the
hash of its last row. The parent takes the results in position order and checks each seam:
a range's first link must be the previous range's last hash. Intact ranges with intact
seams are exactly an intact chain, because one pass checks nothing more than each row's
content, its position and its link to the row before.

Whether a range is intact is all a worker answers. At the first bad range or seam the
parent resumes the walker in-process from that range's start, with the chain state a
single pass would have there, so the position and reason reported are the single pass's
own: the workers change how soon verify answers, never what it answers.

With ``sql=True`` each worker checks its ranges inside SQLite instead
(:mod:`integritet.audit.sqlverify`), falling back to the walker if that connection
cannot be opened; a range reports the same three things either way.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from integritet.audit.chain import GENESIS, ChainWalker

RANGE_SQL = (
    "SELECT position, at, actor, action, outcome, purpose, subject, customer, detail,"
    " prev_hash, hash FROM audit_events WHERE position BETWEEN ? AND ? ORDER BY position"
)
_FETCH = 10_000  # rows per fetchmany inside a range

_connection: Any = None  # a worker process's own connection
_check: Callable[[Any, int, int, Mapping[int, str]], RangeResult] | None = None  # its checker


@dataclass(frozen=True)
class RangeResult:
    """What a range reports: ``ok`` and, when ok, its first link and last hash."""

    start: int
    end: int
    ok: bool
    first_link: str | None = None
    last_hash: str | None = None


def check_range(
    conn: sqlite3.Connection, start: int, end: int, signed: Mapping[int, str]
) -> RangeResult:
    """Walk rows ``start..end`` among themselves; the link into ``start`` is the caller's."""
    cursor = conn.execute(RANGE_SQL, (start, end))
    try:
        rows = cursor.fetchmany(_FETCH)
        if not rows or not isinstance(rows[0][9], str):
            return RangeResult(start, end, False)
        first_link = rows[0][9]
        walker = ChainWalker(signed, start, first_link)
        while rows:
            if not walker.feed(rows):
                return RangeResult(start, end, False)
            rows = cursor.fetchmany(_FETCH)
    finally:
        cursor.close()
    if walker.expected != end + 1:  # rows missing at the end of the range
        return RangeResult(start, end, False)
    return RangeResult(start, end, True, first_link, walker.prev)


def _open_worker(path: str, sql: bool = False) -> None:
    global _connection, _check
    if sql:
        from integritet.audit import sqlverify  # it imports this module

        try:
            _connection, _check = sqlverify.connect(path), sqlverify.check_range
            return
        except sqlverify.Unavailable:  # e.g. no -shm, read-only directory: walk in Python
            pass
    _connection, _check = sqlite3.connect(path, check_same_thread=False), check_range
    _connection.execute("PRAGMA query_only = ON")


def _worker_range(start: int, end: int, signed: Mapping[int, str]) -> RangeResult:
    if _connection is None or _check is None:
        raise RuntimeError("verify worker has no connection")
    return _check(_connection, start, end, signed)


def ranges(total: int, size: int) -> list[tuple[int, int]]:
    """``1..total`` cut into consecutive ranges of ``size`` positions (the last shorter)."""
    return [(a, min(a + size - 1, total)) for a in range(1, total + 1, size)]


def can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def check_ranges(
    path: str,
    total: int,
    signed: Mapping[int, str],
    *,
    workers: int,
    size: int,
    sql: bool = False,
) -> Generator[RangeResult, None, None]:
    """Results for the ranges of ``1..total`` in position order, from ``workers`` processes.

    Forked, so nothing is imported again; each worker opens ``path`` itself. Closing the
    generator early (at a bad range) cancels the ranges not yet started.
    """
    spans = ranges(total, size)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_open_worker,
        initargs=(path, sql),
    )
    try:
        starts, ends = zip(*spans, strict=True)
        yield from pool.map(_worker_range, starts, ends, [signed] * len(spans))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def first_bad(
    results: Iterator[RangeResult], progress: Callable[[int], None] | None = None
) -> tuple[int, str, bool]:
    """Take results in order: (next position, the chain's hash before it, whether all held).

    Stops at the first bad range or seam; the position is then that range's start.
    """
    position, prev = 1, GENESIS
    for result in results:
        if not result.ok or result.first_link != prev or result.last_hash is None:
            return position, prev, False
        position, prev = result.end + 1, result.last_hash
        if progress is not None:
            progress(result.end - result.start + 1)
    return position, prev, True


def database_path(conn: sqlite3.Connection) -> str | None:
    """The file behind a sqlite3 connection; None for an in-memory database."""
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row is not None and row[2] else None
