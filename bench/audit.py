"""Audit log benchmark: verify throughput and append throughput.

    .venv/bin/python bench/audit.py --quick     # 100k rows (development)
    .venv/bin/python bench/audit.py             # 1M rows
    .venv/bin/python bench/audit.py --url postgresql://...   # against PostgreSQL

1. Verify over a chain of N realistic rows (subject ids, customer ids, small JSON
   details), side by side in one run: one pass of the walker over all eleven columns in
   this process (what verify did first), ``verify(sql=False)`` (the Python walker) in one
   process and with the ranges in two worker processes, and ``verify(sql=True)`` (SQLite
   recomputes the hashes with sqlean.py's ``sha256()``; the default when it is installed)
   in one process and in two workers (the default from 200k rows). Goal: >= 500k
   rows/s from SQLite. Reported as rows per wall-clock second and per CPU second (this
   process plus its reaped workers, ``os.times``), best of three
   runs, with the load average before and after: the machine is shared.
2. Append: :meth:`AuditLog.append_now` (one transaction and one commit per event, as a
   refusal is recorded) and :meth:`AuditLog.append` 100 events per caller transaction;
   events per wall-clock second and CPU µs per event; the appended chain must verify.
   ``--append-only`` skips building and verifying the big chain. To compare with an older
   version of the library side by side, alternate runs of this same script with
   ``PYTHONPATH=<a git worktree of the old commit>/src``.

The chain is built with the same encoding as ``append`` and bulk-inserted, so building a
million rows takes seconds, not the minutes a million commits would. Verify checks them
exactly as it checks appended rows. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from integritet.audit import (
    AuditEvent,
    AuditEventRow,
    AuditLog,
    ChainWalker,
    VerifyResult,
    sqlverify,
)
from integritet.audit.chain import chain, format_at
from integritet.audit.log import EXPORT_COLUMNS
from integritet.clock import SystemClock
from integritet.db import make_engine, upgrade

ACTIONS = ["vault.read", "vault.write", "request.transition", "retention.delete", "consent.give"]
COLUMNS = [c.name for c in AuditEventRow.__table__.columns]


def events(n: int) -> list[AuditEvent]:
    subjects = [secrets.token_urlsafe(16) for _ in range(min(n, 10_000))]
    return [
        AuditEvent(
            actor=f"staff:user{i % 40}",
            action=ACTIONS[i % len(ACTIONS)],
            outcome="denied" if i % 17 == 0 else "allowed",
            purpose="support" if i % 3 else "billing",
            subject=subjects[i % len(subjects)],
            customer=f"cust-{i % 200:04d}" if i % 5 else None,
            detail={"category": "contact", "records": i % 7, "rule": "L3"},
        )
        for i in range(n)
    ]


def fill(engine: Engine, n: int, batch: int = 50_000) -> None:
    start = time.perf_counter()
    rows = chain(events(n), [format_at(SystemClock().now())] * n)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        marks = ", ".join(["?" if engine.dialect.name == "sqlite" else "%s"] * len(COLUMNS))
        sql = f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({marks})"
        for i in range(0, n, batch):
            cursor.executemany(sql, rows[i : i + batch])
        raw.commit()
    finally:
        raw.close()
    print(f"built and stored {n:,} rows in {time.perf_counter() - start:.1f} s", file=sys.stderr)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def walk(log: AuditLog) -> VerifyResult:
    """The reference: every column fetched, the chain walked in Python (no checkpoints)."""
    walker = ChainWalker({})
    raw = log.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT {', '.join(EXPORT_COLUMNS)} FROM audit_events ORDER BY position")
        while rows := cursor.fetchmany(50_000):
            walker.feed(rows)
    finally:
        raw.close()
    return walker.result(0)


WAYS: dict[str, tuple[int, bool]] = {  # name: (workers, sql); 0 workers: the bare walk
    "one pass (first)": (0, False),
    "Python, 1 process": (1, False),
    "Python, 2 workers": (2, False),
    "SQL, 1 process": (1, True),
    "SQL, 2 workers": (2, True),
}


def bench_verify(log: AuditLog, n: int, way: tuple[int, bool], runs: int) -> tuple[float, float]:
    workers, sql = way
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(runs):
        wall, cpu = time.perf_counter(), _cpu()
        result = walk(log) if workers == 0 else log.verify(workers=workers, sql=sql)
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        if not result.ok or result.rows != n:
            raise SystemExit(f"verify failed: {result}")
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    # On PostgreSQL the SQL ways spend their CPU in the server: this process may use ~0.
    return n / best_wall, n / best_cpu if best_cpu > 0 else float("inf")


def bench_append(log: AuditLog, n: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(events/s wall, CPU µs per event) of ``append_now`` and of ``append`` 100 per tx."""
    sample = events(n)
    wall, cpu = time.perf_counter(), _cpu()
    for event in sample:
        log.append_now(event)
    single = (n / (time.perf_counter() - wall), (_cpu() - cpu) / n * 1e6)
    wall, cpu = time.perf_counter(), _cpu()
    for i in range(0, n, 100):
        with Session(log.engine) as session, session.begin():
            for event in sample[i : i + 100]:
                log.append(session, event)
    batched = (n / (time.perf_counter() - wall), (_cpu() - cpu) / n * 1e6)
    return single, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k rows, fewer appends")
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each verify; best counts")
    parser.add_argument("--no-append", action="store_true", help="skip the append measures")
    parser.add_argument("--append-only", action="store_true", help="skip building and verify")
    parser.add_argument("--appends", type=int, help="events per append measure")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.rows
    appends = args.appends or (500 if args.quick else 2_000)
    if args.append_only:
        n = 0
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:  # a reused --url database; past the append-only trigger
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("DELETE FROM audit_checkpoints"))
            conn.execute(text("DELETE FROM audit_events"))
        log = AuditLog(engine, Path(tmp) / "audit-signing.key", notify=lambda _m: None)
        sql_ok = sqlverify.available()
        ways = {name: way for name, way in WAYS.items() if n and (sql_ok or not way[1])}
        if n:
            fill(engine, n)
        load = os.getloadavg()[0]
        verify = {name: bench_verify(log, n, way, args.runs) for name, way in ways.items()}
        load = max(load, os.getloadavg()[0])
        single, batched = ((0.0, 0.0), (0.0, 0.0)) if args.no_append else bench_append(log, appends)
        load = max(load, os.getloadavg()[0])
        if not args.no_append and not log.verify().ok:
            raise SystemExit("the appended chain does not verify")
        engine.dispose()
    backend = url.split(":", 1)[0]
    print(f"backend                      {backend}   (load average up to {load:.1f}, 2 cores)")
    if verify:
        print(f"verify rows                  {n:,}")
        if not sql_ok:
            print("sqlean.py not installed: the SQL ways are left out")
        first = verify["one pass (first)"][0]
        for name, (wall, cpu) in verify.items():
            print(
                f"verify {name:<17}     {wall:>9,.0f} rows/s wall   {cpu:>9,.0f} rows/CPU-s"
                f"   {wall / first:4.1f}x wall"
            )
        print("goal                         >= 500,000 rows/s (SQLite)")
    if not args.no_append:
        print(
            f"append_now events/s          {single[0]:,.0f}   {single[1]:,.0f} CPU-µs/event"
            "   (one commit each)"
        )
        print(f"append events/s, 100 per tx  {batched[0]:,.0f}   {batched[1]:,.0f} CPU-µs/event")


if __name__ == "__main__":
    main()
