"""The chain checked inside SQLite (sqlean.py's ``sha256()``) answers exactly like the walker.

Random logs in a real SQLite file are mutated with SQL, as someone with write access to
the file would: any column set to any value (separators, NUL, '', NULL, BLOBs, upper-case
hex), rows deleted, moved, swapped, the tail cut; and, the hardest case, a row changed and
every hash from it on recomputed (over whatever bytes the row now holds), so only the
structural checks (types, separators, '' vs NULL) or a signed checkpoint can tell. Then
``verify`` in SQL and in Python, in one process and in two workers, must all give the
result of one :class:`ChainWalker` pass over the whole table.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from integritet.audit import AuditEvent, AuditLog, ChainWalker, VerifyResult, sqlverify
from integritet.audit.chain import chain
from integritet.audit.log import EXPORT_COLUMNS
from integritet.clock import FixedClock
from integritet.db import make_engine, upgrade

pytestmark = pytest.mark.skipif(not sqlverify.available(), reason="sqlean.py not installed")

_text = st.text(alphabet="abxyzÅä:._-@ 19", min_size=1, max_size=8)
_events = st.builds(
    AuditEvent,
    actor=_text,
    action=_text,
    outcome=st.sampled_from(["allowed", "denied", "done", "failed"]),
    purpose=st.none() | _text,
    subject=st.none() | _text,
    customer=st.none() | _text,
    detail=st.dictionaries(st.sampled_from("kv"), st.integers() | _text, max_size=2),
)
_value = st.one_of(
    st.text(alphabet='abå\x1f\x00:{}"0', max_size=70),
    st.just(""),
    st.none(),
    st.binary(max_size=8),
    st.integers(-3, 12),
)
_COLUMNS = ", ".join(EXPORT_COLUMNS)
_FIELDS = EXPORT_COLUMNS[1:9]  # at .. detail: the columns a rehash leaves to the attacker


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditLog]:
    home = tmp_path_factory.mktemp("sqlverify")
    engine = make_engine(f"sqlite:///{home / 'audit.db'}")
    upgrade(engine)
    yield AuditLog(
        engine, home / "k.key", FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), notify=lambda _m: None
    )
    engine.dispose()


def _connect(log: AuditLog) -> sqlite3.Connection:
    return sqlite3.connect(str(log.engine.url.database), isolation_level=None)


def _store(log: AuditLog, events: list[AuditEvent], checkpoint: bool) -> list[tuple[Any, ...]]:
    rows = chain(events, [f"2026-01-01T00:00:00.{i:06d}Z" for i in range(len(events))])
    conn = _connect(log)
    try:
        conn.execute("DELETE FROM audit_events")
        conn.execute("DELETE FROM audit_checkpoints")
        marks = ", ".join("?" * len(EXPORT_COLUMNS))
        conn.executemany(f"INSERT INTO audit_events ({_COLUMNS}) VALUES ({marks})", rows)
    finally:
        conn.close()
    if checkpoint:
        log.checkpoint()
    return rows


def _bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


def _rehash(conn: sqlite3.Connection, start: int, limit: int = -1) -> None:
    """Recompute ``hash`` (and the next ``prev_hash``) of ``limit`` rows (-1: all) from ``start``.

    Over the raw bytes the rows now hold, as an attacker rewriting the chain would.
    """
    conn.text_factory = bytes
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM audit_events WHERE position >= ? ORDER BY position LIMIT ?",
        (start, limit),
    ).fetchall()
    prev: bytes | None = None
    for row in rows:
        link = row[9] if prev is None else prev
        digest = hashlib.sha256(b"\x1f".join([*map(_bytes, row[:9]), _bytes(link)])).hexdigest()
        conn.execute(
            "UPDATE audit_events SET prev_hash = ?, hash = ? WHERE position = ?",
            (link.decode() if isinstance(link, bytes) else link, digest, row[0]),
        )
        prev = digest.encode()
    conn.text_factory = str


def _mutate(log: AuditLog, rows: list[tuple[Any, ...]], data: st.DataObject) -> None:
    conn = _connect(log)
    k = data.draw(st.integers(1, len(rows)), label="position")
    kinds = ["set", "rehash", "rehash_one", "retype", "upper", "delete", "move", "swap", "cut"]
    kind = data.draw(st.sampled_from(kinds), label="kind")
    try:
        if kind in ("set", "rehash", "rehash_one"):
            columns = EXPORT_COLUMNS[1:] if kind == "set" else _FIELDS
            column = data.draw(st.sampled_from(columns), label="column")
            value = data.draw(_value, label="value")
            try:
                conn.execute(f"UPDATE audit_events SET {column} = ? WHERE position = ?", (value, k))
            except sqlite3.IntegrityError:  # NULL in a NOT NULL column: nothing changed
                pass
            if kind != "set":  # the row's own hash, or every hash from it on, recomputed
                _rehash(conn, k, 1 if kind == "rehash_one" else -1)
        elif kind == "retype":  # the same bytes, stored as a BLOB; with rehash or not
            column = data.draw(st.sampled_from(EXPORT_COLUMNS[1:]), label="column")
            conn.execute(
                f"UPDATE audit_events SET {column} = CAST({column} AS BLOB) WHERE position = ?",
                (k,),
            )
            if column in _FIELDS and data.draw(st.booleans(), label="rehash"):
                _rehash(conn, k)
        elif kind == "upper":
            column = data.draw(st.sampled_from(["hash", "prev_hash"]), label="column")
            conn.execute(f"UPDATE audit_events SET {column} = upper({column}) WHERE position >= ?",
                         (k,))  # fmt: skip
        elif kind == "delete":
            conn.execute("DELETE FROM audit_events WHERE position = ?", (k,))
        elif kind == "move":
            target = data.draw(st.sampled_from([-1, 0, len(rows) + 1, len(rows) + 5]))
            conn.execute("UPDATE audit_events SET position = ? WHERE position = ?", (target, k))
        elif kind == "swap":
            j = data.draw(st.integers(1, len(rows)), label="other")
            conn.execute("UPDATE audit_events SET position = -1 WHERE position = ?", (k,))
            conn.execute("UPDATE audit_events SET position = ? WHERE position = ?", (k, j))
            conn.execute("UPDATE audit_events SET position = ? WHERE position = -1", (j,))
        else:
            conn.execute("DELETE FROM audit_events WHERE position >= ?", (k,))
    finally:
        conn.close()


def _reference(log: AuditLog) -> VerifyResult:
    signed = {cp.position: cp.hash for cp in log.checkpoints()}
    conn = _connect(log)
    try:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM audit_events ORDER BY position").fetchall()
    finally:
        conn.close()
    walker = ChainWalker(signed)
    walker.feed(rows)
    return walker.result(len(signed))


def _all_paths(log: AuditLog, batch: int) -> VerifyResult:
    expected = _reference(log)
    for sql in (True, False):
        for workers in (1, 2):
            got = log.verify(workers=workers, batch=batch, sql=sql)
            assert got == expected, (sql, workers)
    return expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_events, min_size=2, max_size=9), st.booleans(), st.integers(1, 4), st.data())
def test_sql_and_python_paths_answer_alike_for_any_tampering(
    log: AuditLog, events: list[AuditEvent], checkpoint: bool, batch: int, data: st.DataObject
) -> None:
    rows = _store(log, events, checkpoint)
    assert _all_paths(log, batch).ok
    _mutate(log, rows, data)
    _all_paths(log, batch)


def _range_ok(log: AuditLog, start: int, end: int, signed: dict[int, str] | None = None) -> bool:
    conn = sqlverify.connect(str(log.engine.url.database))
    try:
        return sqlverify.check_range(conn, start, end, signed or {}).ok
    finally:
        conn.close()


def _three(log: AuditLog) -> list[tuple[Any, ...]]:
    events = [
        AuditEvent("staff:a", "vault.read", "allowed", purpose="support", detail={"i": i})
        for i in range(3)
    ]
    return _store(log, events, checkpoint=False)


@pytest.mark.parametrize(
    ("statement", "rehash", "reason"),
    [
        # a separator inside a field; with every hash recomputed only its count can tell
        ("UPDATE audit_events SET actor = actor || char(31) || action,"
         " action = substr(outcome, 1, 3), outcome = substr(outcome, 4) WHERE position = 2",
         True, "separator"),
        ("UPDATE audit_events SET subject = '' WHERE position = 2", True, "empty"),
        ("UPDATE audit_events SET detail = CAST(detail AS BLOB) WHERE position = 2", True,
         "types"),
        ("UPDATE audit_events SET actor = actor || char(0) || 'x' WHERE position = 2", False,
         "edited"),
        ("UPDATE audit_events SET hash = upper(hash) WHERE position = 2", False, "edited"),
        ("UPDATE audit_events SET prev_hash = upper(prev_hash) WHERE position = 2", False,
         "link"),
    ],
)  # fmt: skip
def test_the_sql_check_doubts_what_the_walker_rejects(
    log: AuditLog, statement: str, rehash: bool, reason: str
) -> None:
    _three(log)
    assert _range_ok(log, 1, 3)
    conn = _connect(log)
    conn.execute(statement)
    if rehash:
        _rehash(conn, 2)  # hashes that match, so only the structural checks can tell
    conn.close()
    assert not _range_ok(log, 1, 3)
    reference = _reference(log)
    assert (reference.ok, reference.bad_position) == (False, 2)
    assert reference.reason is not None and reason in reference.reason
    assert log.verify(workers=1, sql=True) == reference


def test_a_row_rewritten_with_its_own_hash_breaks_the_next_link(log: AuditLog) -> None:
    _three(log)
    conn = _connect(log)
    conn.execute("UPDATE audit_events SET purpose = 'marketing' WHERE position = 2")
    _rehash(conn, 2, 1)  # row 2 hashes right; row 3 still links to the old hash
    conn.close()
    assert not _range_ok(log, 1, 3)
    assert _range_ok(log, 1, 2)
    reference = _reference(log)
    assert reference.bad_position == 3
    assert reference.reason == "link to the previous row's hash broken"
    assert log.verify(workers=1, sql=True) == reference


def test_signed_checkpoints_and_missing_rows_are_doubted(log: AuditLog) -> None:
    rows = _three(log)
    assert _range_ok(log, 1, 3, {2: rows[1][10]})
    assert not _range_ok(log, 1, 3, {2: rows[0][10]})  # a signed hash differs
    assert not _range_ok(log, 1, 4)  # position 4 is missing


def test_an_intact_log_is_settled_in_sql_alone(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the in-process walker nor the Python range check runs on an intact log."""
    events = [
        AuditEvent("system:t", "a.b", "done", subject="s1", detail={"i": i}) for i in range(9)
    ]
    _store(log, events, checkpoint=True)

    def no_walker(*_args: object) -> Any:
        raise AssertionError("the Python walker ran on an intact log")

    monkeypatch.setattr("integritet.audit.log._stream", no_walker)
    monkeypatch.setattr("integritet.audit.parallel.check_range", no_walker)
    for workers in (1, 2):
        progress: list[int] = []
        result = log.verify(workers=workers, batch=4, progress=progress.append)
        assert (result.ok, result.rows, result.checkpoints) == (True, 9, 1)
        assert progress == [4, 4, 1]


def test_without_sqlean_verify_walks_in_python(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _three(log)
    conn = _connect(log)
    conn.execute("UPDATE audit_events SET outcome = 'denied' WHERE position = 2")
    conn.close()
    monkeypatch.setattr(sqlverify, "sqlean", None)
    assert not sqlverify.available()
    with pytest.raises(sqlverify.Unavailable):
        sqlverify.connect(str(log.engine.url.database))
    result = log.verify(workers=1)
    assert (result.ok, result.bad_position, result.rows) == (False, 2, 1)
    assert result.last_hash == rows[0][10]


def test_an_error_in_sql_or_no_sql_connection_leaves_the_answer_to_the_walker(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    _three(log)
    conn = _connect(log)
    conn.execute("UPDATE audit_events SET action = 'vault.erase' WHERE position = 3")
    conn.close()
    expected = _reference(log)
    assert (expected.ok, expected.bad_position) == (False, 3)
    monkeypatch.setattr(sqlverify, "RANGE_CHECK_SQL", "SELECT no_such_function(1)")
    for workers in (1, 2):
        assert log.verify(workers=workers, batch=1, sql=True) == expected

    def refuse(_path: str) -> Any:
        raise sqlverify.Unavailable("read-only directory, no -shm")

    monkeypatch.setattr(sqlverify, "connect", refuse)  # also in the forked workers
    for workers in (1, 2):
        assert log.verify(workers=workers, batch=1, sql=True) == expected


def test_reads_the_wal_file_read_only_beside_a_writer(log: AuditLog) -> None:
    """SQLite 3.50 (sqlean) reads what the stdlib's SQLite wrote to the WAL, read-only.

    Rows committed to the WAL (not yet checkpointed into the file) are checked; a writer
    with an open transaction is neither blocked nor seen; the connection cannot write.
    """
    path = str(log.engine.url.database)
    _three(log)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        assert writer.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        with Session(log.engine) as session, session.begin():
            for i in range(3):
                log.append(session, AuditEvent("staff:b", "vault.write", "done", detail={"n": i}))
        assert Path(path + "-wal").stat().st_size > 0
        writer.execute("BEGIN IMMEDIATE")  # a writer holding the write lock
        writer.execute("DELETE FROM audit_events WHERE position = 6")  # not committed
        reader = sqlverify.connect(path)
        try:
            assert sqlverify.check_range(reader, 1, 6, {}).ok  # the committed snapshot
            with pytest.raises(Exception, match="readonly"):
                reader.execute("DELETE FROM audit_events")
        finally:
            reader.close()
        result = log.verify(workers=1, sql=True)
        assert (result.ok, result.rows) == (True, 6)
        writer.execute("ROLLBACK")
        reader = sqlverify.connect(path)
        try:  # a reader in the middle of its transaction does not hold up a writer's commit
            reader.execute("BEGIN")
            assert reader.execute("SELECT count(*) FROM audit_events").fetchone() == (6,)
            log.append_now(AuditEvent("staff:b", "vault.write", "done"))
            assert reader.execute("SELECT count(*) FROM audit_events").fetchone() == (6,)
            reader.execute("COMMIT")
            assert sqlverify.check_range(reader, 1, 7, {}).ok
        finally:
            reader.close()
    finally:
        writer.close()
    assert _reference(log).rows == 7
