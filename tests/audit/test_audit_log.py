from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from integritet.audit import AuditEvent, AuditLog, Checkpoint
from integritet.audit import log as audit_log
from integritet.clock import FixedClock
from integritet.db import make_engine, upgrade
from integritet.errors import KeyUnavailable


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def log(engine: Engine, tmp_path: Path, clock: FixedClock) -> AuditLog:
    return AuditLog(engine, tmp_path / "audit-signing.key", clock, notify=lambda _m: None)


@pytest.fixture
def sqlite_log(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[AuditLog]:
    """For behaviour that does not depend on the backend."""
    eng = make_engine(sqlite_url)
    upgrade(eng)
    yield AuditLog(eng, tmp_path / "audit-signing.key", clock, notify=lambda _m: None)
    eng.dispose()


def _event(i: int, customer: str | None = "c1") -> AuditEvent:
    return AuditEvent(
        actor="staff:anna",
        action="vault.read",
        outcome="allowed",
        purpose="support",
        subject=f"s{i}",
        customer=customer,
        detail={"n": i, "rule": "L3"},
    )


def test_append_in_caller_session_commits_with_the_operation(log: AuditLog) -> None:
    with Session(log.engine) as session, session.begin():
        assert log.append(session, _event(1)) == 1
        assert log.append(session, _event(2)) == 2
    assert log.count() == 2
    assert log.verify().ok


def test_append_rolls_back_with_the_operation_but_append_now_does_not(log: AuditLog) -> None:
    with pytest.raises(RuntimeError, match="failed"), Session(log.engine) as session:
        with session.begin():
            log.append_now(AuditEvent("staff:bo", "vault.read", "denied", purpose="marketing"))
            log.append(session, _event(1))
            raise RuntimeError("operation failed")
    entries = list(log.entries())
    assert [(e.position, e.outcome) for e in entries] == [(1, "denied")]
    assert log.verify().ok


def test_append_now_inside_a_locked_transaction_raises_instead_of_hanging(
    sqlite_log: AuditLog,
) -> None:
    log = sqlite_log
    with Session(log.engine) as session, session.begin():
        log.append(session, _event(1))
        with pytest.raises(RuntimeError, match="holds the audit lock"):
            log.append_now(_event(2))
    assert log.append_now(_event(3)) == 2


def test_entries_round_trip_every_field(log: AuditLog, clock: FixedClock) -> None:
    log.append_now(_event(7))
    (entry,) = log.entries()
    assert entry.at == clock.now()
    assert (entry.actor, entry.action, entry.outcome) == ("staff:anna", "vault.read", "allowed")
    assert (entry.purpose, entry.subject, entry.customer) == ("support", "s7", "c1")
    assert entry.detail == {"n": 7, "rule": "L3"}
    assert entry.prev_hash == "0" * 64 and len(entry.hash) == 64


@pytest.mark.parametrize(
    "event",
    [
        AuditEvent("", "vault.read", "allowed"),
        AuditEvent("staff:anna", "vault\x1fread", "allowed"),
        AuditEvent("staff:anna", "vault.read", "maybe"),  # type: ignore[arg-type]
        AuditEvent("staff:anna", "vault.read", "allowed", subject="anna@example.se"),
        AuditEvent("staff:anna", "vault.read", "allowed", purpose=""),
        AuditEvent("staff:anna", "vault.read", "allowed", detail={"x": [1, 2]}),  # type: ignore[dict-item]
        AuditEvent("staff:anna", "vault.read", "allowed", detail={"x": float("inf")}),
    ],
)
def test_invalid_events_are_refused_without_writing(
    sqlite_log: AuditLog, event: AuditEvent
) -> None:
    with pytest.raises(ValueError) as info:
        sqlite_log.append_now(event)
    assert "anna@example.se" not in str(info.value)
    assert sqlite_log.count() == 0


def test_checkpoint_every_n_rows_is_signed(engine: Engine, tmp_path: Path) -> None:
    log = AuditLog(engine, tmp_path / "k.key", checkpoint_every=3, notify=lambda _m: None)
    for i in range(7):
        log.append_now(_event(i))
    cps = log.checkpoints()
    assert [cp.position for cp in cps] == [3, 6]
    assert all(cp.signed_by(log.public_key()) for cp in cps)
    assert log.verify().checkpoints == 2


def test_signing_key_created_on_first_use_with_mode_0600(engine: Engine, tmp_path: Path) -> None:
    said: list[str] = []
    key = tmp_path / "home" / "audit-signing.key"
    log = AuditLog(engine, key, checkpoint_every=1, notify=said.append)
    log.append_now(_event(1))
    assert key.stat().st_mode & 0o777 == 0o600
    assert said == [f"created audit signing key {key}"]
    again = AuditLog(engine, key, notify=said.append)
    assert again.public_key().public_bytes_raw() == log.public_key().public_bytes_raw()
    assert len(said) == 1


def test_on_demand_checkpoint_file_catches_truncation(log: AuditLog, tmp_path: Path) -> None:
    for i in range(5):
        log.append_now(_event(i))
    path = tmp_path / "cp.json"
    cp = log.checkpoint(path)
    assert cp is not None and cp.position == 5
    assert Checkpoint.read(path) == cp
    _tamper(log.engine, "DELETE FROM audit_checkpoints")
    _tamper(log.engine, "DELETE FROM audit_events WHERE position >= 4")
    assert log.verify().ok  # nothing in the database says the tail existed
    result = log.verify(path)
    assert not result.ok
    assert result.bad_position == 4
    assert result.reason is not None and "truncated" in result.reason


def test_forged_checkpoint_is_rejected(sqlite_log: AuditLog, tmp_path: Path) -> None:
    log = sqlite_log
    for i in range(3):
        log.append_now(_event(i))
    cp = log.checkpoint()
    assert cp is not None
    forged = Checkpoint(9, cp.hash, cp.at, cp.public_key, cp.signature)
    path = tmp_path / "forged.json"
    path.write_text(forged.to_json())
    result = log.verify(path)
    assert not result.ok and result.bad_position == 9
    assert result.reason == "checkpoint signature invalid"


def test_empty_log_verifies_and_has_no_checkpoint(sqlite_log: AuditLog) -> None:
    log = sqlite_log
    result = log.verify()
    assert result.ok and result.rows == 0
    assert log.checkpoint() is None


def test_concurrent_appends_never_fork(log: AuditLog) -> None:
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            for i in range(200):
                with Session(log.engine) as session, session.begin():
                    log.append(
                        session,
                        AuditEvent(f"system:{name}", "test.append", "done", detail={"i": i}),
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = log.verify()
    assert result.ok and result.rows == 400


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sqlalchemy.orm import Session
    from integritet.audit import AuditEvent, AuditLog
    from integritet.db import make_engine

    url, key, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    engine = make_engine(url)
    log = AuditLog(engine, key, checkpoint_every=37)
    sys.stdin.readline()  # both processes start appending at once
    for i in range(60):
        event = AuditEvent(f"system:{name}", "test.append", "done", detail={"i": i})
        if i % 5 == 0:
            log.append_now(event)
            continue
        with Session(engine) as session, session.begin():
            for j in range(1 + i % 3):  # 1-3 events per transaction
                log.append(session, AuditEvent(
                    f"system:{name}", "test.append", "done", detail={"i": i, "j": j}
                ))
    engine.dispose()
    """
)


def test_two_processes_appending_at_once_keep_one_verifiable_chain(
    log: AuditLog, tmp_path: Path
) -> None:
    log.signing_key()  # created once, before the writers read it
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRITER,
                log.engine.url.render_as_string(False),
                str(log.signing_key_path),
                name,
            ],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for w in writers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    for w in writers:
        _out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    per_writer = 12 + sum(1 + i % 3 for i in range(60) if i % 5)
    result = log.verify()
    assert result.ok, result
    assert result.rows == 2 * per_writer
    entries = list(log.entries())
    assert [e.position for e in entries] == list(range(1, 2 * per_writer + 1))
    for name in ("a", "b"):  # each writer's events in its own order
        mine = [e.detail["i"] for e in entries if e.actor == f"system:{name}"]
        assert mine == sorted(mine) and len(mine) == per_writer
    assert [cp.position for cp in log.checkpoints()] == list(range(37, result.rows + 1, 37))


def test_the_generic_statement_path_keeps_the_chain(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backends without a fast path (MariaDB) append by SQLAlchemy Core statements."""
    monkeypatch.setattr(audit_log, "_RAW", {})
    log.checkpoint_every = 3
    log.append_now(_event(1))
    with Session(log.engine) as session, session.begin():
        for i in range(2, 6):
            assert log.append(session, _event(i)) == i
        nested = session.begin_nested()
        log.append(session, _event(6))
        nested.rollback()
        assert log.append(session, _event(7)) == 6
    assert [e.subject for e in log.entries()] == ["s1", "s2", "s3", "s4", "s5", "s7"]
    assert [cp.position for cp in log.checkpoints()] == [3, 6]
    assert log.verify().ok


def test_export_only_a_customers_own_events(log: AuditLog, clock: FixedClock) -> None:
    log.append_now(_event(1, customer="c1"))
    log.append_now(_event(2, customer="c2"))
    clock.advance(timedelta(days=2))
    log.append_now(_event(3, customer="c1"))
    out = io.StringIO()
    assert log.export(out, "jsonl", customer="c1") == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["position"] for r in rows] == [1, 3]
    assert {r["customer"] for r in rows} == {"c1"}
    since = log.export(io.StringIO(), "jsonl", since=(clock.now() - timedelta(days=1)).date())
    assert since == 1
    csv_out = io.StringIO()
    assert log.export(csv_out, "csv", customer="c2") == 1
    lines = csv_out.getvalue().splitlines()
    assert lines[0].startswith("position,at,actor")
    assert lines[1].startswith("2,2026-01-15T09:00:00.000000Z,staff:anna")
    assert since == log.export(io.StringIO(), "csv", since=date(2026, 1, 16))


def test_postgres_trigger_rejects_update_delete_truncate(postgres_url: str, tmp_path: Path) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    log = AuditLog(engine, tmp_path / "k.key", FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))
    log.append_now(_event(1))
    log.checkpoint()
    for sql in (
        "UPDATE audit_events SET actor = 'staff:mallory'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET hash = 'x'",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            _raw(engine, sql)
    assert log.count() == 1 and log.verify().ok
    engine.dispose()


def _raw(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql))


def _tamper(engine: Engine, sql: str) -> None:
    """Change the tables as an attacker with full database rights would (trigger bypassed)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(sql))


@pytest.mark.parametrize("nested_outcome", ["rollback", "commit"])
def test_savepoints_inside_the_callers_transaction_keep_the_chain(
    log: AuditLog, nested_outcome: str
) -> None:
    with Session(log.engine) as session, session.begin():
        log.append(session, _event(1))
        nested = session.begin_nested()
        log.append(session, _event(2))
        getattr(nested, nested_outcome)()
        log.append(session, _event(3))
    subjects = [e.subject for e in log.entries()]
    assert subjects == (["s1", "s3"] if nested_outcome == "rollback" else ["s1", "s2", "s3"])
    assert log.verify().ok


def test_verify_never_creates_a_signing_key(sqlite_log: AuditLog, tmp_path: Path) -> None:
    sqlite_log.append_now(_event(1))
    sqlite_log.checkpoint()
    sqlite_log.signing_key_path.unlink()
    fresh = AuditLog(sqlite_log.engine, sqlite_log.signing_key_path, notify=lambda _m: None)
    with pytest.raises(KeyUnavailable, match="missing"):
        fresh.verify()
    assert not sqlite_log.signing_key_path.exists()
