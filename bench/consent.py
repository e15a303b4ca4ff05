"""Consent benchmark: in-process ``may_contact`` checks per second, and no missed withdrawal.

    .venv/bin/python bench/consent.py --quick    # 1,000 subjects and keys, 2 s per phase
    .venv/bin/python bench/consent.py            # 5,000 subjects and keys, 5 s per phase

The ledger is opened as the product wires it (``open_consent``: restriction, objection and
customer checks against the vault in the same SQLite database). Side by side, on the same
data and the same random (subject, purpose, channel) mix:

1. ``cache=False``: every check reads the database (the previous behaviour);
2. ``cache=True`` on a quiet database (the goal: >= 50,000 checks/s);
3. ``cache=True`` while another *process* keeps withdrawing consents: every check of a
   subject whose withdrawal was committed before the check began must say no. The number
   of such checks that said yes is printed and must be 0.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from integritet.access import Actor
from integritet.clock import SystemClock
from integritet.consent import ConsentLedger, ConsentSource, ConsentState, Evidence
from integritet.consent.wiring import open_consent
from integritet.manifest import Manifest, load_manifest
from integritet.settings import Settings
from integritet.vault import open_vault
from integritet.vault.tables import SubjectRow

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "loggamera" / "policy.yaml"
EVIDENCE = Evidence(ConsentSource.import_, "1", text="ja")
CPU_RATES: list[float] = []  # checks per CPU-second of each checks_per_second run


def _open(home: Path) -> tuple[ConsentLedger, list[str], list[tuple[str, str]]]:
    manifest = load_manifest(POLICY)
    settings = Settings(home=home, database_url=None, kek=None)
    vault = open_vault(settings, manifest, SystemClock(), notify=lambda _m: None)
    ledger = open_consent(settings, manifest, vault, SystemClock())
    with vault.tx() as s:
        sids = list(s.scalars(select(SubjectRow.id).order_by(SubjectRow.id)))
    return ledger, sids, _pairs(manifest)


def _pairs(manifest: Manifest) -> list[tuple[str, str]]:
    return [(cp.id, ch.value) for cp in manifest.consent_purposes for ch in cp.channels]


def populate(home: Path, n: int) -> None:
    manifest = load_manifest(POLICY)
    settings = Settings(home=home, database_url=None, kek=None)
    vault = open_vault(settings, manifest, SystemClock(), notify=lambda _m: None)
    ledger = open_consent(settings, manifest, vault, SystemClock())
    system = Actor.system("bench")
    pairs = _pairs(manifest)
    rng = random.Random(1)
    for i in range(n):
        sid = vault.create_subject(system, "account", {"email": f"c{i}@example.se"})
        for purpose, channel in pairs:
            if rng.random() < 0.6:
                ledger.record(sid, purpose, channel, ConsentState.given, EVIDENCE)
        if i % 500 == 0:
            print(f"\r  populated {i:>7,}", end="", file=sys.stderr)
    print(file=sys.stderr)
    ledger.close()
    vault.close()


def checks_per_second(
    ledger: ConsentLedger, keys: list[tuple[str, str, str]], seconds: float
) -> float:
    done, end = 0, time.perf_counter() + seconds
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() < end:
        for sid, purpose, channel in keys[done % len(keys) : done % len(keys) + 1000]:
            ledger.may_contact(sid, purpose, channel)
        done += 1000
    CPU_RATES.append(done / (time.process_time() - cpu))
    return done / (time.perf_counter() - start)


def _withdrawer(home: str, targets: list[str], pair: tuple[str, str], committed: object) -> None:
    """Another process: withdraw each target's consent, publishing the time after commit."""
    manifest = load_manifest(POLICY)
    settings = Settings(home=Path(home), database_url=None, kek=None)
    vault = open_vault(settings, manifest, SystemClock(), notify=lambda _m: None)
    ledger = open_consent(settings, manifest, vault, SystemClock())
    for i, sid in enumerate(targets):
        ledger.record(sid, pair[0], pair[1], ConsentState.withdrawn, EVIDENCE)
        committed[i] = time.monotonic()  # type: ignore[index]
        time.sleep(0.002)
    vault.close()


def under_withdrawals(
    home: Path, ledger: ConsentLedger, keys: list[tuple[str, str, str]], targets: list[str]
) -> tuple[float, int, int]:
    """Checks/s while another process withdraws; (rate, checks of withdrawn, missed)."""
    pair = keys[0][1], keys[0][2]
    for sid in targets:
        ledger.may_contact(sid, *pair)  # warm: these answers are cached as "yes"
    committed = mp.Array("d", [0.0] * len(targets), lock=False)
    proc = mp.get_context("fork").Process(
        target=_withdrawer, args=(str(home), targets, pair, committed)
    )
    proc.start()
    done = watched = missed = 0
    start = time.perf_counter()
    while proc.is_alive() or done == 0:
        for sid, purpose, channel in keys[done % len(keys) : done % len(keys) + 100]:
            ledger.may_contact(sid, purpose, channel)
        done += 100
        for i in range(0, len(targets), 7):
            began = time.monotonic()
            if committed[i] and committed[i] < began:
                watched += 1
                if ledger.may_contact(targets[i], *pair):
                    missed += 1
            done += 1
    proc.join()
    return done / (time.perf_counter() - start), watched, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 subjects, 2 s per phase")
    args = parser.parse_args()
    n, seconds, distinct = (1_000, 2.0, 1_000) if args.quick else (5_000, 5.0, 5_000)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        populate(home, n)
        print(f"  {n:,} subjects in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        ledger, sids, pairs = _open(home)
        rng = random.Random(2)
        working = list({(rng.choice(sids), *rng.choice(pairs)) for _ in range(distinct)})
        t0 = time.perf_counter()
        given = [k for k in working if ledger.may_contact(*k)]  # warms the cache
        warm = len(working) / (time.perf_counter() - t0)
        keys = [rng.choice(working) for _ in range(100_000)]
        plain = ConsentLedger(
            ledger.engine,
            ledger.manifest,
            is_restricted=ledger._is_restricted,
            is_suppressed=ledger._is_suppressed,
            is_customer=ledger._is_customer,
        )
        slow = checks_per_second(plain, keys, seconds)
        fast = checks_per_second(ledger, keys, seconds)
        targets = list(dict.fromkeys(k[0] for k in given if k[1:] == given[0][1:]))[:300]
        busy, watched, missed = under_withdrawals(home, ledger, [given[0], *keys], targets)
        ledger.close()
    print(f"may_contact checks/s, {n:,} subjects, {len(set(keys)):,} distinct keys, SQLite file:")
    print(f"  uncached (reads the database each time): {slow:>10,.0f}")
    print(f"  cached, first check of each key (miss):  {warm:>10,.0f}")
    print(f"  cached, quiet database:                  {fast:>10,.0f}  ratio {fast / slow:.0f}x")
    print(f"  cached, another process withdrawing:     {busy:>10,.0f}")
    print(f"  per CPU-second: uncached {CPU_RATES[0]:,.0f}, cached quiet {CPU_RATES[1]:,.0f}")
    print(f"  goal >= 50,000/s: {'met' if fast >= 50_000 else 'NOT met'} (quiet, wall clock)")
    print(f"  checks after a committed withdrawal: {watched:,}; answered yes: {missed} (must be 0)")


if __name__ == "__main__":
    main()
