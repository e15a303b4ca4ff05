"""Vault benchmark: encrypted vs plaintext throughput, lookup and erasure latency at scale.

    .venv/bin/python bench/vault.py --quick      # 10k vs 100k subjects (development)
    .venv/bin/python bench/vault.py              # 10k vs 1M subjects

1. Write/read throughput of records, encrypted vs "the same schema without encryption"
   (issue #3's goal, >= 0.7), side by side in this process and in one database: the real
   :class:`Vault` on its subjects, and :class:`PlaintextVault` = the same code with
   encryption switched off (same tables, same subject lookup, access check, transaction
   and audit event; fields stored as plaintext JSON, no key row, unwrap or AES-GCM) on as
   many subjects of its own. The ratio isolates the cost of encryption. Writes:
   ``put_records``, 1,000 records per transaction; reads: ``records`` of one subject (its
   own transaction and audit event each). Also printed, so nothing is hidden: the raw-SQL
   baseline of earlier runs (a Core insert of JSON rows / a subject row + records select
   by the ORM, with no lookup, access check or audit).
2. find-by-email (blind index) and erase-one-subject latency (median of 50, full API with
   access check, audit event and ledger fsync) at a small and a large vault, both built
   first and then measured taking turns sample by sample. Goal: <= 2.

Modes are interleaved block by block (so load changes hit them alike); wall-clock and
CPU time of this process are both reported. Runs on temporary SQLite files. ``--url`` puts
both vault sizes in one database, which the second one refuses (its key file is new): it
needs rework before PostgreSQL figures can be taken. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.clock import SystemClock
from integritet.manifest import load_manifest
from integritet.settings import Settings
from integritet.vault import NewRecord, Record, Vault, batch, crypto, open_vault
from integritet.vault.core import Subject, SubjectRef, new_id
from integritet.vault.tables import IdentityRow, KeyRow, RecordRow, SubjectRow, table

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = Actor.system("bench")
STAFF = Actor.staff("bench", "support")  # a role with scope "all": account/contact read+write
_TABLES = (SubjectRow, KeyRow, IdentityRow, RecordRow)
FIELDS = {"name": "Anna Andersson", "address": "Storgatan 1, 111 22 Stockholm"}
PLAIN = "plain"  # key_ref of plaintext rows
_SUBJECT = select(
    SubjectRow.id, SubjectRow.customer_id, SubjectRow.restricted, SubjectRow.erased_at
).where(SubjectRow.id == bindparam("subject"))


class PlaintextVault(Vault):
    """The vault with encryption switched off, for the baseline only (never in production).

    Everything but the cryptography is the real vault's code: ``put_records`` and
    ``records`` run unchanged (subject lookup, access check, one transaction, audit event,
    Core insert and select); only the four steps that touch keys are replaced: subjects
    are loaded without their key row, rows are stored as plaintext JSON (``key_ref`` =
    ``plain``), reads neither fetch nor unwrap a key, and fields are parsed, not decrypted.
    """

    def _load_subjects(self, s: Session, subject_ids: Iterable[str]) -> dict[str, SubjectRef]:
        return batch.load_subjects(s, self.keyring, subject_ids, None, {})

    def _seal_rows(
        self,
        s: Session,
        todo: list[NewRecord],
        plans: dict[str, batch.Plan],
        subjects: dict[str, SubjectRef],
    ) -> list[dict[str, Any]]:
        now, version = self.now(), self.manifest.policy.version
        hex_ids = os.urandom(batch.ID_BYTES * len(todo)).hex()
        step = 2 * batch.ID_BYTES
        return [
            {
                "id": hex_ids[step * n : step * (n + 1)],
                "subject_id": subjects[item.subject_id].id,
                "category": item.category,
                "source": item.source,
                "key_ref": PLAIN,
                "sealed": crypto.fields_bytes(item.fields),
                "policy_version": version,
                "created_at": now,
                "updated_at": now,
                "hold_until": None,
            }
            for n, item in enumerate(todo)
        ]

    def _read_subject(self, s: Session, subject_id: str) -> SubjectRef:
        found = s.connection().execute(_SUBJECT, {"subject": subject_id}).first()
        if found is None:
            live = self.subject_row(s, subject_id)
            return SubjectRef(live.id, live.customer_id, live.restricted, live.erased_at)
        return SubjectRef(found[0], found[1], bool(found[2]), found[3])

    def _open(self, s: Session, subject: Subject, rows: Iterable[Any]) -> list[Record]:
        return [
            Record(
                id=row.id,
                subject_id=row.subject_id,
                category=row.category,
                fields=json.loads(row.sealed),
                source=row.source,
                created_at=row.created_at,
                policy_version=row.policy_version,
                hold_until=row.hold_until,
            )
            for row in rows
        ]


def populate(
    vault: Vault, ids: Sequence[str], *, plain: bool, emails: str = "user", batch: int = 20_000
) -> None:
    """Bulk-create subjects ``ids`` with a DEK, an email identity (``<emails><i>@example.se``)
    and one contact record.

    Rows are sealed exactly as the vault seals them (per-subject DEK wrapped by the KEK,
    AAD per identity and record; with ``plain`` the record is plaintext JSON instead) and
    inserted with Core multi-row inserts, ``batch`` subjects per transaction on one
    connection. On SQLite this phase alone runs with ``PRAGMA synchronous=OFF`` (restored
    before anything is measured).
    """
    n = len(ids)
    sqlite = vault.engine.dialect.name == "sqlite"
    with vault.engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.commit()
        for start in range(0, n, batch):
            rows = _population(vault, ids, range(start, min(n, start + batch)), plain, emails)
            with conn.begin():
                for model, values in zip(_TABLES, rows, strict=True):
                    conn.execute(insert(table(model)), values)
            print(f"\r  populated {min(n, start + batch):>9,}", end="", file=sys.stderr)
        if sqlite:
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")  # as integritet.db sets it
            conn.commit()
    print(file=sys.stderr)


def _population(
    vault: Vault, ids: Sequence[str], numbers: range, plain: bool, emails: str
) -> tuple[list[dict[str, object]], ...]:
    """Subject, key, identity and record rows for subjects ``<emails><i>@example.se``."""
    index_key, ring, now = vault.index_key(), vault.keyring, vault.now()
    subjects: list[dict[str, object]] = []
    keys: list[dict[str, object]] = []
    idents: list[dict[str, object]] = []
    records: list[dict[str, object]] = []
    for i in numbers:
        sid, rid, dek = ids[i], new_id(), crypto.new_key()
        aead = crypto.cipher(dek)
        wrapped, kid = ring.wrap(dek, f"{sid}:dek")
        email = f"{emails}{i}@example.se"
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
        sealed = (
            crypto.fields_bytes(FIELDS)
            if plain
            else crypto.seal_with(
                aead, crypto.fields_bytes(FIELDS), crypto.record_aad(None, sid, "contact", rid)
            )
        )
        records.append(_record_row(sid, rid, now, PLAIN if plain else "dek") | {"sealed": sealed})
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


class Clocks:
    """Wall-clock and CPU seconds of each block, per mode (modes interleaved block by block).

    Rates are taken from the median block of each mode, so a burst of load from other
    processes that hits a few blocks of one mode does not decide the ratio.
    """

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def time(self, mode: str, work: Callable[..., object], *args: object) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        work(*args)
        self.wall.setdefault(mode, []).append(time.perf_counter() - t0)
        self.cpu.setdefault(mode, []).append(time.process_time() - c0)

    def rates(self, prefix: str, per_block: int, out: dict[str, float]) -> None:
        for mode, walls in self.wall.items():
            out[f"{prefix}_{mode}"] = per_block / statistics.median(walls)
            out[f"{prefix}_{mode}_cpu"] = per_block / max(1e-9, statistics.median(self.cpu[mode]))


def throughput(
    sealed: Vault, plain: PlaintextVault, sids: list[str], plain_ids: list[str], rounds: int = 3
) -> dict[str, float]:
    """Records/s read and written: encrypted vs integritet-without-encryption vs raw SQL.

    Reads first (every subject then has exactly one contact record): ``records`` of one
    subject (every category the staff role may read, as ``GET /subjects/{id}/records``),
    in blocks of 100 subjects, modes interleaved block by block. Then writes of 1,000
    records per transaction, with 1 and with 10 records per subject, modes interleaved
    batch by batch, ``rounds`` times over the subjects. ``single`` = ``put_record`` one
    by one, for reference. ``sids`` are the encrypted side's subjects, ``plain_ids`` the
    baseline's (as many); the raw rows use the baseline's subjects.
    """
    out: dict[str, float] = {}
    clocks = Clocks()
    for start in range(0, len(sids), 100):
        block, plain_block = sids[start : start + 100], plain_ids[start : start + 100]
        clocks.time("raw", _raw_reads, plain, plain_block, False)
        clocks.time("rawsealed", _raw_reads, sealed, block, True)
        clocks.time("plain", _reads, plain, plain_block)
        clocks.time("sealed", _reads, sealed, block)
    clocks.rates("read", 100, out)
    for per in (1, 10):  # records per subject in a batch
        clocks = Clocks()
        targets = [sid for sid in sids[: len(sids) // per] for _ in range(per)]
        plain_targets = [sid for sid in plain_ids[: len(sids) // per] for _ in range(per)]
        for _round in range(rounds):
            for start in range(0, len(targets) - 999, 1000):
                chunk = targets[start : start + 1000]
                plain_chunk = plain_targets[start : start + 1000]
                items = [NewRecord(sid, "contact", FIELDS, "person") for sid in chunk]
                plain_items = [NewRecord(sid, "contact", FIELDS, "person") for sid in plain_chunk]
                clocks.time("raw", _raw_insert, plain, plain_chunk)
                clocks.time("plain", plain.put_records, STAFF, "account", plain_items)
                clocks.time("sealed", sealed.put_records, STAFF, "account", items)
        clocks.rates(f"write{per}", 1000, out)
    few = sids[: max(1, len(sids) // 10)]
    t0 = time.perf_counter()
    for sid in few:
        sealed.put_record(STAFF, "account", sid, "contact", FIELDS, "person")
    out["write_single"] = len(few) / (time.perf_counter() - t0)
    return out


def _reads(vault: Vault, block: list[str]) -> None:
    for sid in block:
        vault.records(STAFF, "account", sid)


def _raw_insert(vault: Vault, chunk: list[str]) -> None:
    """The raw baseline: JSON rows by one Core insert, one clock reading per batch."""
    now = vault.now()
    rows = [
        _record_row(sid, new_id(), now, PLAIN) | {"sealed": json.dumps(FIELDS).encode()}
        for sid in chunk
    ]
    with vault.engine.begin() as conn:
        conn.execute(insert(table(RecordRow)), rows)


def _raw_reads(vault: Vault, block: list[str], sealed: bool) -> None:
    """The raw baseline: subject row and records by the ORM, one session; ``sealed`` opens
    them as the vault does (key row, unwrap, AES-GCM), else parses the JSON."""
    with Session(vault.engine) as s:
        for sid in block:
            subject = s.get(SubjectRow, sid)
            assert subject is not None
            rows = s.scalars(select(RecordRow).where(RecordRow.subject_id == sid)).all()
            if sealed:
                vault._open(s, subject, rows)
            else:
                [json.loads(r.sealed) for r in rows]


def latencies(vaults: list[tuple[Vault, int]], samples: int = 50) -> list[tuple[float, float]]:
    """Median ms of find-by-email and of erase-one-subject in each vault, side by side: the
    vaults take turns sample by sample (and go first in turn), so load from other processes
    hits them alike."""
    finds: list[list[float]] = [[] for _ in vaults]
    erases: list[list[float]] = [[] for _ in vaults]
    order = list(enumerate(vaults))
    for i in range(samples):
        for k, (vault, n) in order if i % 2 == 0 else order[::-1]:  # each goes first in turn
            email = f"user{(i * 7919) % n}@example.se"
            t0 = time.perf_counter()
            sid = vault.find_subject(SYSTEM, "account", "email", email)
            finds[k].append(time.perf_counter() - t0)
            assert sid is not None
            t0 = time.perf_counter()
            vault.erase(SYSTEM, "account", sid)
            erases[k].append(time.perf_counter() - t0)
    return [
        (statistics.median(f) * 1000, statistics.median(e) * 1000)
        for f, e in zip(finds, erases, strict=True)
    ]


def _open(home: Path, url: str | None) -> Vault:
    settings = Settings(home=home, database_url=url, kek=None)
    manifest = load_manifest(ROOT / "examples" / "loggamera" / "policy.yaml")
    return open_vault(settings, manifest, SystemClock(), notify=lambda _m: None)


def _built(home: Path, url: str | None, n: int) -> tuple[Vault, list[str]]:
    vault = _open(home, url)
    ids = [new_id() for _ in range(n)]
    t0 = time.perf_counter()
    populate(vault, ids, plain=False)
    print(f"  {n:,} subjects in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return vault, ids


def rates_of(vault: Vault, ids: list[str]) -> dict[str, float]:
    """Throughput on ``vault``: the baseline lives in the same database, audit chain and key
    ring, on as many subjects of its own with plaintext records, so each side reads only
    its own."""
    plain = PlaintextVault(
        vault.engine, vault.manifest, vault.keyring, vault.audit, vault.clock, vault.ledger_path
    )
    plain_ids = [new_id() for _ in range(min(len(ids), 5000))]
    populate(plain, plain_ids, plain=True, emails="plain")
    with Session(vault.engine) as s:
        live = set(s.scalars(select(SubjectRow.id).where(SubjectRow.erased_at.is_(None))))
    sids = [sid for sid in ids if sid in live][: len(plain_ids)]
    return throughput(vault, plain, sids, plain_ids[: len(sids)])


def _line(label: str, rates: dict[str, float], key: str, base: str, goal: str = "") -> str:
    wall = rates[f"{key}_sealed"] / rates[f"{key}_{base}"]
    cpu = rates[f"{key}_sealed_cpu"] / rates[f"{key}_{base}_cpu"]
    return (
        f"  {label}: {rates[f'{key}_{base}']:,.0f} vs encrypted {rates[f'{key}_sealed']:,.0f}"
        f"/s wall, ratio {wall:.2f}; per CPU-second {rates[f'{key}_{base}_cpu']:,.0f} vs "
        f"{rates[f'{key}_sealed_cpu']:,.0f}, ratio {cpu:.2f}{goal}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k vs 100k subjects")
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    small, large = 10_000, 100_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        small_vault, small_ids = _built(Path(tmp) / "small", args.url, small)
        large_vault, _ = _built(Path(tmp) / "large", args.url, large)
        (f_small, e_small), (f_large, e_large) = latencies(
            [(small_vault, small), (large_vault, large)]
        )
        large_vault.close()
        rates = rates_of(small_vault, small_ids)
        small_vault.close()
    goal = " (goal >= 0.7)"
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("write records/s, 1,000 per transaction, 1 record per subject:")
    print(_line("same schema without encryption", rates, "write1", "plain", goal))
    print(_line("raw Core insert of JSON rows  ", rates, "write1", "raw"))
    print("write records/s, 10 records per subject:")
    print(_line("same schema without encryption", rates, "write10", "plain", goal))
    print(_line("raw Core insert of JSON rows  ", rates, "write10", "raw"))
    print(f"  (put_record one by one, own transaction each: {rates['write_single']:,.0f}/s)")
    print("read records/s, records() of one subject (1 record), own transaction + audit each:")
    print(_line("same schema without encryption", rates, "read", "plain", goal))
    raw = rates["read_rawsealed"] / rates["read_raw"]
    raw_cpu = rates["read_rawsealed_cpu"] / rates["read_raw_cpu"]
    print(
        f"  raw ORM select, no access check/audit: {rates['read_raw']:,.0f} vs encrypted "
        f"{rates['read_rawsealed']:,.0f}/s wall, ratio {raw:.2f}; per CPU-second "
        f"{rates['read_raw_cpu']:,.0f} vs {rates['read_rawsealed_cpu']:,.0f}, ratio {raw_cpu:.2f}"
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
