"""Vault benchmark: encrypted vs plaintext throughput, lookup and erasure latency at scale.

    .venv/bin/python bench/vault.py --quick      # 10k vs 100k subjects (development)
    .venv/bin/python bench/vault.py              # 10k vs 1M subjects

1. Write/read throughput of records, sealed (``Vault.put_records``: access check, per-subject
   DEK loaded and unwrapped once per batch, AES-256-GCM with AAD, audit event) vs the same
   rows with JSON plaintext in the same table, both as multi-row inserts of 1,000 rows per
   transaction. Goal: >= 0.7.
2. find-by-email (blind index) and erase-one-subject latency (median of 50, full API with
   access check, audit event and ledger fsync) at a small and a large vault. Goal: <= 2.

Runs on a temporary SQLite file (or ``--url`` for PostgreSQL). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.clock import SystemClock
from integritet.manifest import load_manifest
from integritet.settings import Settings
from integritet.vault import NewRecord, Vault, crypto, open_vault
from integritet.vault.core import new_id
from integritet.vault.tables import IdentityRow, KeyRow, RecordRow, SubjectRow, table

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = Actor.system("bench")
_TABLES = (SubjectRow, KeyRow, IdentityRow, RecordRow)
FIELDS = {"name": "Anna Andersson", "address": "Storgatan 1, 111 22 Stockholm"}


def populate(vault: Vault, n: int, batch: int = 20_000) -> None:
    """Bulk-create ``n`` subjects with a DEK, an email identity and one contact record.

    Rows are sealed exactly as the vault seals them (per-subject DEK wrapped by the KEK,
    AAD per identity and record) and inserted with Core multi-row inserts, ``batch``
    subjects per transaction on one connection. On SQLite this phase alone runs with
    ``PRAGMA synchronous=OFF`` (restored before anything is measured).
    """
    sqlite = vault.engine.dialect.name == "sqlite"
    with vault.engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.commit()
        for start in range(0, n, batch):
            rows = _population(vault, range(start, min(n, start + batch)))
            with conn.begin():
                for model, values in zip(_TABLES, rows, strict=True):
                    conn.execute(insert(table(model)), values)
            print(f"\r  populated {min(n, start + batch):>9,}", end="", file=sys.stderr)
        if sqlite:
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")  # as integritet.db sets it
            conn.commit()
    print(file=sys.stderr)


def _population(vault: Vault, numbers: range) -> tuple[list[dict[str, object]], ...]:
    """Subject, key, identity and record rows for subjects ``user<i>@example.se``."""
    index_key, ring, now = vault.index_key(), vault.keyring, vault.now()
    subjects: list[dict[str, object]] = []
    keys: list[dict[str, object]] = []
    idents: list[dict[str, object]] = []
    records: list[dict[str, object]] = []
    for i in numbers:
        sid, rid, dek = new_id(), new_id(), crypto.new_key()
        aead = crypto.cipher(dek)
        wrapped, kid = ring.wrap(dek, f"{sid}:dek")
        email = f"user{i}@example.se"
        subjects.append(
            {"id": sid, "customer_id": None, "source": "person", "created_at": now}
            | {"restricted": False}
        )
        keys.append(
            {"id": f"{sid}:dek", "subject_id": sid, "kind": "dek", "wrapped": wrapped}
            | {"kek_id": kid, "created_at": now}
        )
        idents.append(
            {
                "subject_id": sid,
                "kind": "email",
                "digest": crypto.blind_index(index_key, "email", email),
                "sealed": crypto.seal_with(
                    aead, email.encode(), crypto.identity_aad(None, sid, "email")
                ),
            }
        )
        records.append(
            _record_row(sid, rid, now, "dek")
            | {
                "sealed": crypto.seal_with(
                    aead,
                    crypto.fields_bytes(FIELDS),
                    crypto.record_aad(None, sid, "contact", rid),
                )
            }
        )
    return subjects, keys, idents, records


def _record_row(sid: str, rid: str, now: datetime, key_ref: str) -> dict[str, object]:
    return {
        "id": rid,
        "subject_id": sid,
        "category": "contact",
        "source": "person",
        "key_ref": key_ref,
        "policy_version": "1",
        "created_at": now,
        "updated_at": now,
        "hold_until": None,
    }


def throughput(vault: Vault, n: int, batch: int = 1000) -> dict[str, float]:
    """Records/s written and read, sealed vs plaintext, one record for each of ``n`` subjects.

    Writes: plaintext = multi-row Core insert of JSON into the same table, ``batch`` rows per
    transaction; encrypted = ``Vault.put_records`` with the same batches (access check, DEK
    load and unwrap, AES-GCM, insert, audit event). ``single`` = ``put_record`` one by one,
    for reference.
    """
    with Session(vault.engine) as s, s.begin():
        sids = list(s.scalars(select(SubjectRow.id).limit(n)))
    out: dict[str, float] = {}
    for per in (1, 10):  # records per subject in a batch
        targets = [sid for sid in sids[: len(sids) // per] for _ in range(per)]
        chunks = [targets[i : i + batch] for i in range(0, len(targets), batch)]
        for mode in ("plain", "sealed"):
            t0, c0 = time.perf_counter(), time.process_time()
            for chunk in chunks:
                if mode == "plain":
                    with vault.engine.begin() as conn:
                        conn.execute(insert(table(RecordRow)), _plain_rows(vault, chunk))
                else:
                    items = [NewRecord(sid, "contact", FIELDS, "person") for sid in chunk]
                    vault.put_records(SYSTEM, "account", items)
            suffix = "" if per == 1 else f"_{per}"
            out[f"write_{mode}{suffix}"] = len(targets) / (time.perf_counter() - t0)
            out[f"cpu_{mode}{suffix}"] = len(targets) / (time.process_time() - c0)
    few = sids[: max(1, len(sids) // 10)]
    t0 = time.perf_counter()
    for sid in few:
        vault.put_record(SYSTEM, "account", sid, "contact", FIELDS, "person")
    out["write_single"] = len(few) / (time.perf_counter() - t0)
    for mode in ("plain", "sealed"):
        t0 = time.perf_counter()
        with Session(vault.engine) as s:
            for sid in sids:
                subject = s.get(SubjectRow, sid)
                assert subject is not None
                rows = s.scalars(
                    select(RecordRow).where(
                        RecordRow.subject_id == sid,
                        (RecordRow.key_ref == "plain")
                        if mode == "plain"
                        else (RecordRow.key_ref == "dek"),
                    )
                ).all()
                if mode == "sealed":
                    vault._open(s, subject, rows)
                else:
                    [json.loads(r.sealed) for r in rows]
        out[f"read_{mode}"] = len(sids) / (time.perf_counter() - t0)
    return out


def _plain_rows(vault: Vault, chunk: list[str]) -> list[dict[str, object]]:
    """The plaintext baseline's rows: one clock reading per batch, like ``put_records``."""
    now = vault.now()
    return [
        _record_row(sid, new_id(), now, "plain") | {"sealed": json.dumps(FIELDS).encode()}
        for sid in chunk
    ]


def latencies(vault: Vault, n: int, samples: int = 50) -> tuple[float, float]:
    """Median ms of find-by-email and of erase-one-subject."""
    finds, erases = [], []
    for i in range(samples):
        email = f"user{(i * 7919) % n}@example.se"
        t0 = time.perf_counter()
        sid = vault.find_subject(SYSTEM, "account", "email", email)
        finds.append(time.perf_counter() - t0)
        assert sid is not None
        t0 = time.perf_counter()
        vault.erase(SYSTEM, "account", sid)
        erases.append(time.perf_counter() - t0)
    return statistics.median(finds) * 1000, statistics.median(erases) * 1000


def run_size(n: int, url: str | None, rates: bool) -> tuple[float, float, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), database_url=url, kek=None)
        manifest = load_manifest(ROOT / "examples" / "loggamera" / "policy.yaml")
        vault = open_vault(settings, manifest, SystemClock(), notify=lambda _m: None)
        t0 = time.perf_counter()
        populate(vault, n)
        print(f"  {n:,} subjects in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        find_ms, erase_ms = latencies(vault, n)
        measured = throughput(vault, min(n, 5000)) if rates else {}
        vault.close()
    return find_ms, erase_ms, measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k vs 100k subjects")
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    small, large = 10_000, 100_000 if args.quick else 1_000_000
    f_small, e_small, rates = run_size(small, args.url, True)
    f_large, e_large, _ = run_size(large, args.url, False)
    w = rates["write_sealed"] / rates["write_plain"]
    r = rates["read_sealed"] / rates["read_plain"]
    print(
        f"write records/s: plaintext {rates['write_plain']:,.0f}  "
        f"encrypted {rates['write_sealed']:,.0f}  ratio {w:.2f} (goal >= 0.7)"
    )
    print(
        f"  per CPU-second: plaintext {rates['cpu_plain']:,.0f}  encrypted "
        f"{rates['cpu_sealed']:,.0f}  ratio {rates['cpu_sealed'] / rates['cpu_plain']:.2f}"
    )
    w10 = rates["write_sealed_10"] / rates["write_plain_10"]
    c10 = rates["cpu_sealed_10"] / rates["cpu_plain_10"]
    print(
        f"  10 records per subject: plaintext {rates['write_plain_10']:,.0f}  encrypted "
        f"{rates['write_sealed_10']:,.0f}  ratio {w10:.2f} (per CPU-second {c10:.2f})"
    )
    print(f"  (put_record one by one, own transaction each: {rates['write_single']:,.0f}/s)")
    print(
        f"read  records/s: plaintext {rates['read_plain']:,.0f}  "
        f"encrypted {rates['read_sealed']:,.0f}  ratio {r:.2f} (goal >= 0.7)"
    )
    print(
        f"find-by-email ms: {small:,}: {f_small:.2f}  {large:,}: {f_large:.2f}  "
        f"ratio {f_large / f_small:.2f} (goal <= 2)"
    )
    print(
        f"erase-subject ms: {small:,}: {e_small:.2f}  {large:,}: {e_large:.2f}  "
        f"ratio {e_large / e_small:.2f} (goal <= 2)"
    )


if __name__ == "__main__":
    main()
