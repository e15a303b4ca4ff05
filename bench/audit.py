"""Audit log benchmark: verify throughput and append throughput.

    .venv/bin/python bench/audit.py --quick     # 100k rows (development)
    .venv/bin/python bench/audit.py             # 1M rows
    .venv/bin/python bench/audit.py --url postgresql://...   # against PostgreSQL

1. Verify: :meth:`AuditLog.verify` over a chain of N realistic rows (subject ids, customer
   ids, small JSON details), streamed from the database in batches through the raw DB-API
   cursor. Goal: >= 500k rows/s from SQLite. Reported as rows per wall-clock second and
   per CPU second (``time.process_time``), best of three runs.
2. Append: :meth:`AuditLog.append_now` (one transaction and one commit per event, as a
   refusal is recorded) and :meth:`AuditLog.append` 100 events per caller transaction.

The chain is built with the same encoding as ``append`` and bulk-inserted, so building a
million rows takes seconds, not the minutes a million commits would. Verify checks them
exactly as it checks appended rows. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from integritet.audit import AuditEvent, AuditEventRow, AuditLog
from integritet.audit.chain import chain, format_at
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


def bench_verify(log: AuditLog, n: int, runs: int = 3) -> tuple[float, float]:
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = log.verify()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not result.ok or result.rows != n:
            raise SystemExit(f"verify failed: {result}")
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return n / best_wall, n / best_cpu


def bench_append(log: AuditLog, n: int) -> tuple[float, float]:
    sample = events(n)
    start = time.perf_counter()
    for event in sample:
        log.append_now(event)
    single = n / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(0, n, 100):
        with Session(log.engine) as session, session.begin():
            for event in sample[i : i + 100]:
                log.append(session, event)
    batched = n / (time.perf_counter() - start)
    return single, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k rows, fewer appends")
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.rows
    appends = 500 if args.quick else 2_000
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))  # a reused --url database
        log = AuditLog(engine, Path(tmp) / "audit-signing.key", notify=lambda _m: None)
        fill(engine, n)
        wall, cpu = bench_verify(log, n)
        single, batched = bench_append(log, appends)
        engine.dispose()
    backend = url.split(":", 1)[0]
    print(f"backend                      {backend}")
    print(f"verify rows                  {n:,}")
    print(f"verify rows/s (wall)         {wall:,.0f}   goal >= 500,000 (SQLite)")
    print(f"verify rows/s (CPU)          {cpu:,.0f}")
    print(f"append_now events/s          {single:,.0f}   (one commit each)")
    print(f"append events/s, 100 per tx  {batched:,.0f}")


if __name__ == "__main__":
    main()
