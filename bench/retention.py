"""Retention benchmark: the vault sweep vs a raw ``DELETE ... WHERE`` on an identical copy.

    .venv/bin/python bench/retention.py --quick            # 100k records, 10k due
    .venv/bin/python bench/retention.py                    # 10M records, 1M due
    .venv/bin/python bench/retention.py --records 1000000  # any size, 10 % due

Per backend (a temporary SQLite file; a fresh schema on the local PostgreSQL, dropped
afterwards) the vault's own tables are filled in chunks (SQLite ``executemany`` with
``synchronous=OFF`` for the load only, PostgreSQL ``COPY`` into both schemas; the
``subject_id`` index is built after loading; the time is printed): one subject per ten
records, each subject with one ``access_log`` record collected two years ago (due under a
one-year ``collected`` rule) and nine collected yesterday, so no subject is emptied and the
sweep measures record deletion. Sealed blobs are 64 random bytes (the sweep reads metadata
only). Then, on two identical copies (SQLite: a file copy; PostgreSQL: the same rows):

- sweep: ``integritet.retention.run`` with that one rule (candidates in batches read in
  the table's physical order, legal-hold and restriction checks, one ``DELETE``,
  erasure-ledger entry and audit events per batch);
- raw: one ``DELETE FROM vault_records WHERE category = 'access_log' AND created_at <= ...``.

``--pg-template SCHEMA`` (PostgreSQL) fills SCHEMA once, keeps it between runs and copies
it server-side (``INSERT ... SELECT``) into the two schemas measured, so iterating at 2M
does not re-populate each time (drop it by hand when done).

Prints rows/s for both and the ratio (goal >= 0.5), the sweep's peak RSS growth (Linux
``VmHWM`` reset through ``/proc/self/clear_refs``; goal: flat in N), CPU time of this
process, and the load average. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text

from integritet import retention
from integritet.clock import FixedClock
from integritet.db import make_engine, upgrade
from integritet.manifest import load_manifest
from integritet.manifest.model import Manifest, RetentionRule
from integritet.settings import Settings
from integritet.vault import open_vault
from integritet.vault.tables import RecordRow, table

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("INTEGRITET_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test")
NOW = datetime(2026, 6, 1, tzinfo=UTC)
PER_SUBJECT = 10
CHUNK = 10_000


def manifest() -> Manifest:
    """Loggamera with one rule: access logs deleted a year after collection."""
    base = load_manifest(ROOT / "examples" / "loggamera" / "policy.yaml")
    rule = RetentionRule.model_validate(
        {"id": "bench-access-log", "categories": ["access_log"], "duration": "1y",
         "anchor": "collected", "action": "delete"}
    )  # fmt: skip
    return base.model_copy(update={"retention": [rule], "log_sources": [], "datasets": []})


SUBJECT_COLUMNS = ("id", "customer_id", "source", "created_at", "restricted")
RECORD_COLUMNS = ("id", "subject_id", "category", "source", "key_ref", "sealed",
                  "policy_version", "created_at", "updated_at", "hold_until")  # fmt: skip
INDEX = "ix_vault_records_subject_id"


def rows(
    n: int, old: Any, fresh: Any
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Chunks of (subjects, records) as tuples: every tenth record (collected at ``old``)
    is due, the others were collected at ``fresh``. Ids and sealed blobs are random bytes
    drawn in one call per chunk."""
    for start in range(0, n, CHUNK):
        k = min(n, start + CHUNK) - start
        hexes = os.urandom(16 * (k + k // PER_SUBJECT + 1)).hex()
        blobs = os.urandom(64 * k)
        subjects, records = [], []
        sid, h = "", 0
        for j in range(k):
            i = start + j
            if i % PER_SUBJECT == 0 or not sid:
                sid, h = hexes[h : h + 32], h + 32
                subjects.append((sid, None, "person", old, False))
            at = old if i % PER_SUBJECT == 0 else fresh
            records.append(
                (hexes[h : h + 32], sid, "access_log", "system", "dek",
                 blobs[64 * j : 64 * j + 64], "1", at, at, None)
            )  # fmt: skip
            h += 32
        yield subjects, records


def populate(engines: list[Engine], n: int) -> float:
    """Fill the vault tables of every engine with the same rows; returns the seconds.

    SQLite: plain ``executemany`` with ``synchronous=OFF`` for the load only; PostgreSQL:
    ``COPY``. The index on ``subject_id`` is dropped while loading and built afterwards."""
    t0 = time.perf_counter()
    old: Any = NOW - timedelta(days=730)
    fresh: Any = NOW - timedelta(days=1)
    conns = [e.raw_connection() for e in engines]
    sqlite = engines[0].dialect.name == "sqlite"
    if sqlite:  # SQLAlchemy's SQLite storage format for DateTime
        old, fresh = (d.strftime("%Y-%m-%d %H:%M:%S.%f") for d in (old, fresh))
    try:
        for conn in conns:
            cur = conn.cursor()
            if sqlite:
                cur.execute("PRAGMA synchronous=OFF")
            cur.execute(f"DROP INDEX {INDEX}")
            conn.commit()
        done = 0
        for subjects, records in rows(n, old, fresh):
            for conn in conns:
                cur = conn.cursor()
                if sqlite:
                    marks = ",".join("?" * len(SUBJECT_COLUMNS))
                    cur.executemany(f"INSERT INTO vault_subjects ({','.join(SUBJECT_COLUMNS)}) "
                                    f"VALUES ({marks})", subjects)  # fmt: skip
                    marks = ",".join("?" * len(RECORD_COLUMNS))
                    cur.executemany(f"INSERT INTO vault_records ({','.join(RECORD_COLUMNS)}) "
                                    f"VALUES ({marks})", records)  # fmt: skip
                else:
                    tables = (("vault_subjects", SUBJECT_COLUMNS, subjects),
                              ("vault_records", RECORD_COLUMNS, records))  # fmt: skip
                    for name, columns, chunk in tables:
                        with cur.copy(f"COPY {name} ({','.join(columns)}) FROM STDIN") as copy:
                            for row in chunk:
                                copy.write_row(row)
                conn.commit()
            done += len(records)
            print(f"\r  populated {done:>11,}", end="", file=sys.stderr)
        print(file=sys.stderr)
        for conn in conns:
            cur = conn.cursor()
            cur.execute(f"CREATE INDEX {INDEX} ON vault_records (subject_id)")
            if sqlite:
                cur.execute("PRAGMA synchronous=NORMAL")
            else:
                cur.execute("ANALYZE vault_records")
                cur.execute("ANALYZE vault_subjects")
            conn.commit()
    finally:
        for conn in conns:
            conn.close()
    return time.perf_counter() - t0


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table(RecordRow))) or 0)


def rss_kib(field: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def timed_sweep(url: str, home: Path, total: int) -> dict[str, float]:
    """``retention.run`` on the database at ``url``: seconds, CPU, deleted, peak RSS."""
    settings = Settings(home=home, database_url=url, kek=None)
    home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    vault = open_vault(settings, manifest(), FixedClock(NOW), notify=lambda _m: None,
                       engine=engine)  # fmt: skip
    before_rss = rss_kib("VmRSS")
    exact_peak = reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    report = retention.run(vault.manifest, vault, FixedClock(NOW))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = rss_kib("VmHWM") if exact_peak else 0
    left = count(engine)
    vault.close()
    engine.dispose()
    assert report.done == total - left, (report.done, total, left)
    growth = (peak - before_rss) / 1024
    return {"seconds": seconds, "cpu": cpu, "rows": report.done, "left": left,
            "rss_before_mib": before_rss / 1024, "peak_growth_mib": growth}  # fmt: skip


def timed_raw(url: str) -> dict[str, float]:
    engine = make_engine(url)
    bound = NOW - timedelta(days=365)
    t0, c0 = time.perf_counter(), time.process_time()
    with engine.begin() as conn:
        result = conn.execute(
            text("DELETE FROM vault_records WHERE category = :c AND created_at <= :b"),
            {"c": "access_log", "b": bound},
        )
        deleted = result.rowcount
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    return {"seconds": seconds, "cpu": cpu, "rows": deleted}


def sqlite_pair(tmp: Path, n: int) -> tuple[str, str, float]:
    a, b = tmp / "sweep.db", tmp / "raw.db"
    engine = make_engine(f"sqlite:///{a}")
    upgrade(engine)
    seconds = populate([engine], n)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    shutil.copy(a, b)
    return f"sqlite:///{a}", f"sqlite:///{b}", seconds


def pg_url(schema: str) -> str:
    sep = "&" if "?" in PG else "?"
    return f"{PG}{sep}options=-csearch_path%3D{schema}"


def pg_schema(admin: Engine, schema: str) -> str:
    """Create ``schema`` with the vault's tables (migrations); its URL."""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = pg_url(schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def pg_template(n: int, admin: Engine, name: str) -> float:
    """A populated copy kept between runs (``--pg-template``): filled once, reused while
    it holds ``n`` records. Returns the seconds spent populating (0 when reused)."""
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
            {"s": name},
        )
        if exists:
            held = conn.scalar(text(f'SELECT count(*) FROM "{name}".vault_records'))
            if held == n:
                return 0.0
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    engine = make_engine(pg_schema(admin, name))
    seconds = populate([engine], n)
    engine.dispose()
    return seconds


def pg_copy(admin: Engine, source: str, schema: str) -> str:
    """A fresh schema holding the same vault rows as ``source`` (copied server-side)."""
    url = pg_schema(admin, schema)
    with admin.connect() as conn:
        conn.execute(text(f'DROP INDEX "{schema}".{INDEX}'))
        for name, columns in (("vault_subjects", SUBJECT_COLUMNS),
                              ("vault_records", RECORD_COLUMNS)):  # fmt: skip
            cols = ",".join(columns)
            conn.execute(
                text(f'INSERT INTO "{schema}".{name} ({cols}) SELECT {cols} FROM "{source}".{name}')
            )
        conn.execute(text(f'CREATE INDEX {INDEX} ON "{schema}".vault_records (subject_id)'))
        conn.execute(text(f'ANALYZE "{schema}".vault_records'))
        conn.execute(text(f'ANALYZE "{schema}".vault_subjects'))
    return url


def pg_pair(
    n: int, admin: Engine, schemas: list[str], template: str | None = None
) -> tuple[str, str, float]:
    if template is not None:
        t0 = time.perf_counter()
        filled = pg_template(n, admin, template)
        urls = []
        for _ in range(2):
            schema = f"bench_ret_{uuid.uuid4().hex[:8]}"
            schemas.append(schema)
            urls.append(pg_copy(admin, template, schema))
        if filled:
            print(f"postgresql template {template} populated in {filled:.0f} s", file=sys.stderr)
        return urls[0], urls[1], time.perf_counter() - t0
    urls = []
    for _ in range(2):
        schema = f"bench_ret_{uuid.uuid4().hex[:8]}"
        schemas.append(schema)
        urls.append(pg_schema(admin, schema))
    engines = [make_engine(url) for url in urls]
    seconds = populate(engines, n)  # the same rows into both schemas
    for engine in engines:
        engine.dispose()
    return urls[0], urls[1], seconds


def measure(backend: str, n: int, tmp: Path, template: str | None = None) -> dict[str, Any]:
    print(f"{backend}: {n:,} records, {n // PER_SUBJECT:,} due", file=sys.stderr)
    schemas: list[str] = []
    admin = create_engine(PG, isolation_level="AUTOCOMMIT") if backend == "postgresql" else None
    try:
        if admin is None:
            sweep_url, raw_url, seconds = sqlite_pair(tmp, n)
        else:
            sweep_url, raw_url, seconds = pg_pair(n, admin, schemas, template)
        print(f"{backend:<10} populated {n:,} records in {seconds:.0f} s (both copies)")
        raw = timed_raw(raw_url)
        sweep = timed_sweep(sweep_url, tmp / f"home-{backend}", n)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for schema in schemas:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    return {"sweep": sweep, "raw": raw}


def report(backend: str, got: dict[str, Any]) -> None:
    sweep, raw = got["sweep"], got["raw"]
    s_rate, r_rate = sweep["rows"] / sweep["seconds"], raw["rows"] / raw["seconds"]
    print(
        f"{backend:<10} sweep {sweep['rows']:,} rows in {sweep['seconds']:.2f} s "
        f"({s_rate:,.0f} rows/s, CPU {sweep['cpu']:.2f} s)  raw {raw['rows']:,} rows in "
        f"{raw['seconds']:.2f} s ({r_rate:,.0f} rows/s, CPU {raw['cpu']:.2f} s)  "
        f"ratio {s_rate / r_rate:.2f} (goal >= 0.5)"
    )
    print(
        f"{'':<10} sweep RSS before {sweep['rss_before_mib']:.0f} MiB, "
        f"peak growth during the sweep {sweep['peak_growth_mib']:.1f} MiB; "
        f"rows left {sweep['left']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k records (10k due)")
    parser.add_argument("--records", type=int, help="number of records (default 10M)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-template",
        metavar="SCHEMA",
        help="PostgreSQL: keep a populated copy in SCHEMA between runs and copy it server-side "
        "for each measurement (populated the first time or when the size differs)",
    )
    parser.add_argument("--only-template", action="store_true", help="just fill --pg-template")
    args = parser.parse_args()
    n = args.records or (100_000 if args.quick else 10_000_000)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)")
    if args.only_template and args.pg_template:
        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        print(f"populated in {pg_template(n, admin, args.pg_template):.0f} s")
        admin.dispose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            got = measure(backend, n, Path(tmp), args.pg_template)
            report(backend, got)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
