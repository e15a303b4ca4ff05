"""Ranges checked in worker processes answer exactly what one pass answers, for any tampering.

Random logs are written to a real SQLite file and mutated with SQL, as someone with write
access to the file would: any column of any row set to any value (separators, NUL, empty
strings, NULL, the same bytes as a BLOB), rows deleted, renumbered, swapped, the tail cut.
Then ``AuditLog.verify`` with ranges of one to four rows in two worker processes must give
the same result as one :class:`ChainWalker` pass over the whole table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integritet.audit import AuditEvent, AuditLog, ChainWalker, VerifyResult
from integritet.audit.chain import chain
from integritet.audit.log import EXPORT_COLUMNS
from integritet.audit.parallel import RANGE_SQL, check_range, check_ranges, first_bad, ranges
from integritet.clock import FixedClock
from integritet.db import make_engine, upgrade

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
)
_COLUMNS = ", ".join(EXPORT_COLUMNS)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditLog]:
    home = tmp_path_factory.mktemp("parallel")
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


def _mutate(log: AuditLog, rows: list[tuple[Any, ...]], data: st.DataObject) -> None:
    conn = _connect(log)
    k = data.draw(st.integers(1, len(rows)), label="position")
    kind = data.draw(st.sampled_from(["set", "retype", "delete", "move", "swap", "cut"]))
    try:
        if kind == "set":
            column = data.draw(st.sampled_from(EXPORT_COLUMNS[1:]), label="column")
            value = data.draw(_value, label="value")
            try:
                conn.execute(f"UPDATE audit_events SET {column} = ? WHERE position = ?", (value, k))
            except sqlite3.IntegrityError:  # NULL in a NOT NULL column: nothing changed
                pass
        elif kind == "retype":  # the same bytes, stored as a BLOB
            column = data.draw(st.sampled_from(EXPORT_COLUMNS[1:]), label="column")
            conn.execute(
                f"UPDATE audit_events SET {column} = CAST({column} AS BLOB) WHERE position = ?",
                (k,),
            )
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


def _same(log: AuditLog, workers: int, batch: int) -> VerifyResult:
    expected = _reference(log)
    assert log.verify(workers=workers, batch=batch) == expected
    return expected


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_events, min_size=2, max_size=9), st.booleans(), st.integers(1, 4), st.data())
def test_ranges_in_worker_processes_answer_like_one_pass(
    log: AuditLog, events: list[AuditEvent], checkpoint: bool, batch: int, data: st.DataObject
) -> None:
    rows = _store(log, events, checkpoint)
    assert _same(log, 2, batch).ok
    _mutate(log, rows, data)
    _same(log, 2, batch)


def test_a_nul_hidden_in_a_field_is_caught(log: AuditLog) -> None:
    """A NUL (C's end of string) in a stored field does not hide the text after it."""
    _store(log, [AuditEvent("staff:a", "vault.read", "allowed")] * 3, checkpoint=False)
    conn = _connect(log)
    conn.execute("UPDATE audit_events SET actor = actor || char(0) || 'x' WHERE position = 2")
    conn.close()
    result = log.verify(workers=2, batch=1)
    assert (result.ok, result.bad_position) == (False, 2)
    assert result.reason is not None and "edited" in result.reason


def test_worker_ranges_report_their_seams_in_order(log: AuditLog) -> None:
    rows = _store(log, [AuditEvent("system:t", "a.b", "done", detail={"i": i}) for i in range(7)],
                  checkpoint=False)  # fmt: skip
    path = str(log.engine.url.database)
    conn = _connect(log)
    try:
        results = list(check_ranges(path, 7, {}, workers=2, size=3))
        assert [(r.start, r.end, r.ok) for r in results] == [(1, 3, 1), (4, 6, 1), (7, 7, 1)]
        assert [r.first_link for r in results] == [rows[0][9], rows[2][10], rows[5][10]]
        assert first_bad(r for r in results) == (8, rows[6][10], True)
        broken = [results[0], results[2]]  # a seam that does not join
        assert first_bad(r for r in broken) == (4, rows[2][10], False)
        assert not check_range(conn, 1, 8, {}).ok  # position 8 is missing
        assert not check_range(conn, 1, 7, {3: "0" * 64}).ok  # a signed hash differs
    finally:
        conn.close()
    assert ranges(7, 3) == [(1, 3), (4, 6), (7, 7)]
    assert RANGE_SQL.count("?") == 2


def test_an_intact_log_is_settled_by_the_workers_alone(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-process walker (``_stream``) only runs from a range the workers doubt."""
    _store(log, [AuditEvent("system:t", "a.b", "done", detail={"i": i}) for i in range(9)], True)

    def no_walker(*_args: object) -> Iterator[list[tuple[Any, ...]]]:
        raise AssertionError("the walker ran on an intact log")

    monkeypatch.setattr("integritet.audit.log._stream", no_walker)
    progress: list[int] = []
    result = log.verify(workers=2, batch=4, progress=progress.append)
    assert (result.ok, result.rows, result.checkpoints) == (True, 9, 1)
    assert progress == [4, 4, 1]
