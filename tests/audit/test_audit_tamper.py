"""Tampering with the stored tables (as a database superuser would) is found by verify."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from integritet.audit import AuditEvent, AuditLog, canonical_encoding, sqlverify
from integritet.clock import FixedClock
from integritet.db import make_engine, upgrade

ROWS = 6


@pytest.fixture
def log(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[AuditLog]:
    engine = make_engine(database_url)
    upgrade(engine)
    audit = AuditLog(engine, tmp_path / "k.key", clock, checkpoint_every=ROWS, notify=print)
    for i in range(1, ROWS + 1):
        audit.append_now(
            AuditEvent(
                f"staff:s{i}", "vault.read", "allowed", "support", f"subj{i}", "c1", {"i": i}
            )
        )
    assert audit.verify().ok
    yield audit
    engine.dispose()


def _tamper(engine: Engine, *statements: str, **params: object) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for sql in statements:
            conn.execute(text(sql), params)


def _swap_contents(engine: Engine) -> None:
    cols = "at, actor, action, outcome, purpose, subject, customer, detail, prev_hash, hash"
    with engine.connect() as conn:
        two, four = (
            conn.execute(text(f"SELECT {cols} FROM audit_events WHERE position = {p}")).one()
            for p in (2, 4)
        )
    sets = ", ".join(f"{c} = :{c}" for c in cols.split(", "))
    for position, values in ((2, four), (4, two)):
        _tamper(
            engine,
            f"UPDATE audit_events SET {sets} WHERE position = {position}",
            **values._asdict(),
        )


def _insert_at_3(engine: Engine) -> None:
    _tamper(
        engine,
        "UPDATE audit_events SET position = -position WHERE position >= 3",
        "UPDATE audit_events SET position = 1 - position WHERE position < 0",
        "INSERT INTO audit_events (position, at, actor, action, outcome, detail, prev_hash, hash)"
        " SELECT 3, at, 'staff:mallory', action, outcome, detail, hash, hash"
        " FROM audit_events WHERE position = 2",
    )


CASES: dict[str, tuple[Callable[[Engine], None], int, str]] = {
    "edit actor": (
        lambda e: _tamper(e, "UPDATE audit_events SET actor = 'staff:x' WHERE position = 3"),
        3,
        "edited",
    ),
    "edit detail": (
        lambda e: _tamper(e, "UPDATE audit_events SET detail = :d WHERE position = 5", d='{"i":9}'),
        5,
        "edited",
    ),
    "null a subject": (
        lambda e: _tamper(e, "UPDATE audit_events SET subject = NULL WHERE position = 2"),
        2,
        "edited",
    ),
    "delete": (lambda e: _tamper(e, "DELETE FROM audit_events WHERE position = 3"), 3, "missing"),
    "swap": (_swap_contents, 2, "link"),
    "insert": (_insert_at_3, 3, "edited"),
    "truncate": (
        lambda e: _tamper(e, "DELETE FROM audit_events WHERE position >= 4"),
        4,
        "truncated",
    ),
    "forge checkpoint": (
        lambda e: _tamper(e, "UPDATE audit_checkpoints SET hash = :h", h="0" * 64),
        ROWS,
        "signature",
    ),
}


@pytest.mark.parametrize("sql", [True, False])
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_found_at_the_first_bad_position(
    log: AuditLog, case: str, workers: int, sql: bool
) -> None:
    """On SQLite also with the ranges checked by two worker processes (two rows each);
    with the ranges checked in SQL (sqlean's or PostgreSQL's sha256) and in Python."""
    mutate, position, reason = CASES[case]
    mutate(log.engine)
    result = log.verify(workers=workers, batch=2, sql=sql)
    assert not result.ok
    assert result.bad_position == position
    assert result.reason is not None and reason in result.reason


def _rehash_from(engine: Engine, start: int) -> None:
    """Recompute every hash (and link) from ``start`` on, as an attacker rewriting it would."""
    cols = "position, at, actor, action, outcome, purpose, subject, customer, detail, prev_hash"
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {cols} FROM audit_events WHERE position >= :s ORDER BY position"),
            {"s": start},
        ).all()
    prev = rows[0][9]
    for row in rows:
        digest = hashlib.sha256(canonical_encoding(*row[:9], prev)).hexdigest()
        _tamper(
            engine,
            "UPDATE audit_events SET prev_hash = :p, hash = :h WHERE position = :n",
            p=prev,
            h=digest,
            n=row[0],
        )
        prev = digest


@pytest.mark.parametrize("sql", [True, False])
@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [("purpose", "", "empty field"), ("actor", "staff:s3\x1fx", "separator")],
)
def test_a_rewritten_chain_is_caught_by_its_structure(
    log: AuditLog, column: str, value: str, reason: str, sql: bool
) -> None:
    """No checkpoint left and every hash recomputed: only the row's form gives it away."""
    _tamper(log.engine, "DELETE FROM audit_checkpoints")
    _tamper(log.engine, f"UPDATE audit_events SET {column} = :v WHERE position = 3", v=value)
    _rehash_from(log.engine, 3)
    result = log.verify(workers=1, sql=sql)
    assert (result.ok, result.bad_position, result.rows) == (False, 3, 2)
    assert result.reason is not None and reason in result.reason


def test_an_intact_log_is_settled_in_sql_alone(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database checks the ranges (SQLite: by default); the Python walker never runs."""
    if log.engine.dialect.name == "sqlite" and not sqlverify.available():
        pytest.skip("sqlean.py not installed")

    def no_walker(*_args: object) -> Iterator[list[tuple[object, ...]]]:
        raise AssertionError("the Python walker ran on an intact log")

    monkeypatch.setattr("integritet.audit.log._stream", no_walker)
    progress: list[int] = []
    sql = None if log.engine.dialect.name == "sqlite" else True
    result = log.verify(workers=1, batch=4, progress=progress.append, sql=sql)
    assert (result.ok, result.rows, result.checkpoints) == (True, ROWS, 1)
    assert progress == [4, ROWS - 4]
