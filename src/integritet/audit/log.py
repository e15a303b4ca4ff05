"""Storage of the chain: the tables, appending under a lock, checkpoints, verify, export."""

from __future__ import annotations

import base64
import csv
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from integritet.audit import parallel, sqlverify
from integritet.audit.chain import (
    _SHA256,
    GENESIS,
    SEP,
    AuditEntry,
    AuditEvent,
    ChainWalker,
    VerifyResult,
    canonical_detail,
    format_at,
    parse_at,
    validate_event,
)
from integritet.audit.signing import Checkpoint, b64_public, load_or_create_signing_key
from integritet.clock import Clock, SystemClock
from integritet.db import Base

_ADVISORY_LOCK = 0x1A0D17  # pg_advisory_xact_lock key for appends
_POSITION = BigInteger().with_variant(Integer(), "sqlite")  # rowid alias on SQLite


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    position: Mapped[int] = mapped_column(_POSITION, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(100))
    customer: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_customer", "customer"),
        Index("ix_audit_events_subject", "subject"),
    )


class AuditCheckpointRow(Base):
    __tablename__ = "audit_checkpoints"

    position: Mapped[int] = mapped_column(_POSITION, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(32))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


_HEAD = (
    select(AuditEventRow.position, AuditEventRow.hash)
    .order_by(AuditEventRow.position.desc())
    .limit(1)
)
_INSERT = insert(AuditEventRow)  # Core, compiled once and cached (other dialects)
_COLUMNS_SQL = (
    "position, at, actor, action, outcome, purpose, subject, customer, detail, prev_hash, hash"
)
# The statements of the fast paths, run on the DB-API connection of the caller's transaction.
_RAW: dict[str, tuple[str, str, str]] = {  # dialect: (lock, head, insert)
    "sqlite": (
        # Takes SQLite's write lock now, so no other connection can append between reading
        # the head and inserting (a transaction that has written holds it already).
        "BEGIN IMMEDIATE",
        "SELECT position, hash FROM audit_events ORDER BY position DESC LIMIT 1",
        f"INSERT INTO audit_events ({_COLUMNS_SQL}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    "postgresql": (
        # The lock and the head in one round trip: in READ COMMITTED each statement of the
        # string takes its own snapshot, so the head is read after the lock is granted.
        f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK});"
        " SELECT position, hash FROM audit_events ORDER BY position DESC LIMIT 1",
        "SELECT position, hash FROM audit_events ORDER BY position DESC LIMIT 1",
        f"INSERT INTO audit_events ({_COLUMNS_SQL})"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
    ),
}


class _Hold:
    """A transaction holding the append lock, and the chain head it last wrote.

    ``raw`` is the DB-API connection of the transaction on SQLite and PostgreSQL (the
    fast path: prebuilt SQL, no SQLAlchemy statement per append); None elsewhere.
    """

    __slots__ = ("conn", "fresh", "head", "raw", "session", "sql", "tx")

    def __init__(
        self,
        session: Session | None,
        tx: SessionTransaction | None,
        conn: Connection,
    ) -> None:
        self.session = session
        self.tx = tx
        self.conn = conn
        self.sql = _RAW.get(conn.dialect.name)
        driver = conn.connection.driver_connection if self.sql is not None else None
        self.raw: Any = driver
        self.head: tuple[int, str] | None = None
        self.fresh = False  # head read with the lock, nothing appended since

    def execute(self, index: int, params: tuple[Any, ...] | None = None) -> Any:
        """Run fast-path statement ``index`` (0 lock, 1 head, 2 insert); driver errors are
        raised as SQLAlchemy's ``DBAPIError`` subclasses, without the parameters."""
        assert self.sql is not None
        statement = self.sql[index]
        dialect = self.conn.dialect
        try:
            cursor = self.raw.cursor()
            if params is None:  # no parameters: PostgreSQL's simple protocol, several statements
                cursor.execute(statement)
            else:
                cursor.execute(statement, params)
            return cursor
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                statement, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                dialect=dialect,
            ) from exc  # fmt: skip

    def lock(self) -> None:
        """Serialise appenders until the transaction ends (on PostgreSQL: read the head)."""
        if self.sql is None:
            self.conn.execute(_HEAD.with_for_update())
        elif self.conn.dialect.name == "postgresql":
            cursor = self.execute(0)
            cursor.nextset()
            row = cursor.fetchone()
            cursor.close()
            self.head = (row[0], row[1]) if row is not None else (0, GENESIS)
            self.fresh = True
        elif not self.raw.in_transaction:
            # On SQLite a transaction that has written already holds the write lock.
            self.execute(0).close()

    def read_head(self) -> tuple[int, str]:
        if self.sql is None:
            row = self.conn.execute(_HEAD).first()
        else:
            cursor = self.execute(1)
            row = cursor.fetchone()
            cursor.close()
        return (row[0], row[1]) if row is not None else (0, GENESIS)

    def insert(self, row: tuple[Any, ...]) -> None:
        if self.sql is None:
            self.conn.execute(_INSERT, dict(zip(EXPORT_COLUMNS, row, strict=True)))
        else:
            self.execute(2, row).close()


class AuditLog:
    """Append to, checkpoint, verify and export the audit chain in ``engine``'s database."""

    def __init__(
        self,
        engine: Engine,
        signing_key_path: Path,
        clock: Clock | None = None,
        *,
        checkpoint_every: int = 1000,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.engine = engine
        self.signing_key_path = signing_key_path
        self.clock: Clock = clock or SystemClock()
        self.checkpoint_every = checkpoint_every
        self._notify = notify
        self._key: Ed25519PrivateKey | None = None
        self._local = threading.local()  # this thread's _Holds
        self._info_key = f"integritet.audit.hold.{id(self)}"  # a session's _Hold, in .info

    # -- keys ---------------------------------------------------------------

    def signing_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_or_create_signing_key(self.signing_key_path, self._notify)
        return self._key

    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key().public_key()

    def _verifying_key(self) -> Ed25519PublicKey:
        if self._key is None:
            self._key = load_or_create_signing_key(self.signing_key_path, create=False)
        return self._key.public_key()

    # -- appending ----------------------------------------------------------

    def _held(self) -> list[_Hold]:
        """This thread's transactions that hold the append lock (ended ones dropped)."""
        held: list[_Hold] = getattr(self._local, "held", [])
        held = [
            h
            for h in held
            if h.session is not None
            and h.tx is not None
            and h.tx.is_active
            and h.session.get_transaction() is h.tx
        ]
        self._local.held = held
        return held

    def _lock(self, session: Session) -> _Hold:
        """Serialise appenders until the caller's transaction ends; the hold caches the head.

        The lock is taken once per transaction: the hold is kept in ``session.info``.
        """
        tx = session.get_transaction()
        hold: _Hold | None = session.info.get(self._info_key)
        if hold is not None and tx is not None and hold.tx is tx and tx.is_active:
            return hold  # this transaction holds the lock already
        conn = session.connection(bind_arguments={"mapper": AuditEventRow.__mapper__})
        hold = _Hold(session, session.get_transaction(), conn)
        hold.lock()
        if not session.in_nested_transaction():
            # Taken inside a savepoint, the lock may go with it (PostgreSQL releases locks
            # of a rolled-back savepoint): such holds are not reused.
            session.info[self._info_key] = hold
        self._local.held = [*self._held(), hold]
        return hold

    def _row(self, event: AuditEvent, position: int, prev: str) -> tuple[Any, ...]:
        """The stored row of ``event`` (validated) at ``position`` after ``prev``, hash last.

        The canonical encoding of :func:`chain.canonical_encoding`, inlined, hashed from a
        copied SHA-256 context.
        """
        detail = canonical_detail(event.detail)
        at = format_at(self.clock.now())
        purpose, subject, customer = event.purpose, event.subject, event.customer
        sha = _SHA256.copy()
        sha.update(
            SEP.join((
                str(position), at, event.actor, event.action, event.outcome,
                "" if purpose is None else purpose, "" if subject is None else subject,
                "" if customer is None else customer, detail, prev,
            )).encode()
        )  # fmt: skip
        return (
            position, at, event.actor, event.action, event.outcome, purpose, subject, customer,
            detail, prev, sha.hexdigest(),
        )  # fmt: skip

    def _append(self, hold: _Hold, event: AuditEvent, nested: bool) -> int:
        head = hold.head
        if head is None or (nested and not hold.fresh):
            # Re-read inside savepoints: a rolled-back savepoint may have taken rows away.
            head = hold.read_head()
        row = self._row(event, head[0] + 1, head[1])
        hold.insert(row)
        hold.fresh = False
        position, digest = row[0], row[10]
        hold.head = None if nested else (position, digest)
        if position % self.checkpoint_every == 0:
            self._write_checkpoint(hold.conn, position, digest)
        return int(position)

    def append(self, session: Session, event: AuditEvent) -> int:
        """Write ``event`` as the next row inside ``session``'s transaction; return its position."""
        validate_event(event)
        hold = self._lock(session)
        nested = session.in_nested_transaction()
        if nested:  # the savepoint is emitted when its transaction first asks for a connection
            session.connection(bind_arguments={"mapper": AuditEventRow.__mapper__})
        return self._append(hold, event, nested)

    def append_now(self, event: AuditEvent) -> int:
        """Write ``event`` in its own transaction (for refusals); return its position.

        Call it before the operation writes or after it rolled back: while a transaction
        of this thread holds the append lock (it appended) a second one would wait for it
        forever, so that raises ``RuntimeError``. On SQLite any open write transaction
        holds the database lock, so the same rule applies to every write.
        """
        if self._held():
            raise RuntimeError("append_now() while this thread's transaction holds the audit lock")
        validate_event(event)
        with self.engine.connect() as conn, conn.begin():
            hold = _Hold(None, None, conn)
            hold.lock()
            return self._append(hold, event, False)

    def write(self, session: Session | None, event: AuditEvent) -> int:
        """``append`` inside ``session``, or ``append_now`` when there is none."""
        return self.append_now(event) if session is None else self.append(session, event)

    # -- checkpoints ---------------------------------------------------------

    def _write_checkpoint(self, conn: Connection, position: int, digest: str) -> Checkpoint:
        existing = conn.execute(_CHECKPOINT_AT, {"position": position}).first()
        if existing is not None:
            return Checkpoint(*existing)
        key = self.signing_key()
        unsigned = Checkpoint(position, digest, format_at(self.clock.now()), "", "")
        signature = base64.b64encode(key.sign(unsigned.payload())).decode()
        cp = Checkpoint(position, digest, unsigned.at, b64_public(key.public_key()), signature)
        conn.execute(insert(AuditCheckpointRow), [dict(cp.__dict__)])
        return cp

    def checkpoint(self, path: Path | None = None) -> Checkpoint | None:
        """Sign the current head now (None for an empty log); also write it to ``path``."""
        with Session(self.engine) as session, session.begin():
            hold = self._lock(session)
            position, digest = hold.read_head()
            if position == 0:
                return None
            cp = self._write_checkpoint(hold.conn, position, digest)
        if path is not None:
            path.write_text(cp.to_json(), encoding="utf-8")
        return cp

    def checkpoints(self) -> list[Checkpoint]:
        with Session(self.engine) as session:
            rows = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.position))
            return [_checkpoint_of(row) for row in rows]

    # -- reading -------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """(position, hash) of the newest row; (0, GENESIS) when empty."""
        with Session(self.engine) as session:
            row = session.execute(
                select(AuditEventRow.position, AuditEventRow.hash)
                .order_by(AuditEventRow.position.desc())
                .limit(1)
            ).first()
        return (row[0], row[1]) if row is not None else (0, GENESIS)

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(func.count()).select_from(AuditEventRow)) or 0)

    def entries(
        self,
        *,
        customer: str | None = None,
        subject: str | None = None,
        since: datetime | date | None = None,
        batch: int = 5000,
    ) -> Iterable[AuditEntry]:
        """Stored rows in order, optionally only one customer's or subject's, or since a time."""
        query = select(AuditEventRow).order_by(AuditEventRow.position)
        if customer is not None:
            query = query.where(AuditEventRow.customer == customer)
        if subject is not None:
            query = query.where(AuditEventRow.subject == subject)
        if since is not None:
            if not isinstance(since, datetime):
                since = datetime.combine(since, time(), tzinfo=UTC)
            query = query.where(AuditEventRow.at >= format_at(since))
        with Session(self.engine) as session:
            for row in session.scalars(query.execution_options(yield_per=batch)):
                yield _entry_of(row)

    # -- verifying and exporting ----------------------------------------------

    def verify(
        self,
        checkpoint: Path | None = None,
        *,
        batch: int = 50_000,
        workers: int | None = None,
        progress: Callable[[int], None] | None = None,
        sql: bool | None = None,
    ) -> VerifyResult:
        """Walk the whole chain and every signed checkpoint; name the first bad position.

        ``checkpoint`` is an exported checkpoint file, so truncation is caught even when
        the attacker also deleted the checkpoints in the database. ``progress`` is called
        with the number of rows checked in each batch. On SQLite the chain is checked in
        ranges of ``batch`` rows by ``workers`` processes (default: two from 200,000 rows
        on, when the machine has two cores); see :mod:`integritet.audit.parallel`. With
        ``sql`` (default: on SQLite when ``sqlean.py`` is importable; on PostgreSQL only
        when asked) the database checks each range itself
        (:mod:`integritet.audit.sqlverify`); ``sql=False`` walks every row in Python. At
        the first range in doubt the Python walker takes over, so the answer is the same.
        """
        signed = self.checkpoints()
        if checkpoint is not None and (exported := Checkpoint.read(checkpoint)) not in signed:
            signed.append(exported)
        trusted = self._verifying_key() if signed else None
        expected: dict[int, str] = {}
        for cp in signed:
            if trusted is None or not cp.signed_by(trusted):
                return _checked(
                    self.head(), len(signed), cp.position, "checkpoint signature invalid"
                )
            if expected.setdefault(cp.position, cp.hash) != cp.hash:
                return _checked(self.head(), len(signed), cp.position, "conflicting checkpoints")
        raw = self.engine.raw_connection()
        try:
            start, prev, done = 1, GENESIS, False
            dialect = self.engine.dialect.name
            if dialect == "sqlite":
                start, prev, done = _fast_verify(raw, expected, workers, batch, progress, sql)
            elif dialect == "postgresql" and sql:  # opt-in: not faster there (benchmarks.md)
                start, prev, done = _postgres_verify(raw, expected, batch, progress)
            walker = ChainWalker(expected, start, prev)
            if not done:  # the walker, from the first range the fast check doubted
                for rows in _stream(raw, batch, start):
                    if not walker.feed(rows):
                        break
                    if progress is not None:
                        progress(len(rows))
        finally:
            raw.close()
        return walker.result(len(signed))

    def export(
        self,
        out: TextIO,
        fmt: Literal["jsonl", "csv"] = "jsonl",
        *,
        customer: str | None = None,
        since: datetime | date | None = None,
    ) -> int:
        """Write rows (a customer's own only, when given) as JSON lines or CSV; return the count."""
        writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writerow(EXPORT_COLUMNS)
        elif fmt != "jsonl":
            raise ValueError("format must be jsonl or csv")
        count = 0
        for entry in self.entries(customer=customer, since=since):
            data = entry.as_dict()
            if writer is not None:
                data["detail"] = canonical_detail(entry.detail)
                writer.writerow([data[c] for c in EXPORT_COLUMNS])
            else:
                out.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
        return count


EXPORT_COLUMNS = (
    "position",
    "at",
    "actor",
    "action",
    "outcome",
    "purpose",
    "subject",
    "customer",
    "detail",
    "prev_hash",
    "hash",
)
_CHECKPOINT_AT = select(
    AuditCheckpointRow.position,
    AuditCheckpointRow.hash,
    AuditCheckpointRow.at,
    AuditCheckpointRow.public_key,
    AuditCheckpointRow.signature,
).where(AuditCheckpointRow.position == bindparam("position"))
_SELECT_ROWS = (
    "SELECT position, at, actor, action, outcome, purpose, subject, customer, detail,"
    " prev_hash, hash FROM audit_events{} ORDER BY position"
)
PARALLEL_FROM = 200_000  # rows from which verify uses worker processes by default


def _extent(driver: Any) -> tuple[int, Any, bool]:
    """Rows of the log, its highest position, and whether the positions are exactly 1..N
    (false when empty): only then do the range checks apply."""
    count, low, top = driver.execute(
        "SELECT count(*), min(position), max(position) FROM audit_events"
    ).fetchone()
    return count, top, low == 1 and top == count


def _fast_verify(
    raw: Any,
    signed: dict[int, str],
    workers: int | None,
    size: int,
    progress: Callable[[int], None] | None,
    sql: bool | None,
) -> tuple[int, str, bool]:
    """Ranges on SQLite: (position, hash before it, whether all held).

    In worker processes from ``PARALLEL_FROM`` rows, checked in SQL when ``sql`` (or
    sqlean.py is there); in this process in SQL otherwise. When not all held, the walker
    resumes in-process at the returned position with that hash; also when the log is in
    memory, rows lie outside 1..N, or neither fast path applies here (position 1).
    """
    driver = raw.driver_connection
    count, top, dense = _extent(driver)
    if sql is None:
        sql = sqlverify.available()
    if workers is None:
        workers = 2 if count >= PARALLEL_FROM and (os.cpu_count() or 1) >= 2 else 1
    path = parallel.database_path(driver)
    if path is None or not dense:  # the walker says which row is wrong
        return 1, GENESIS, False
    if workers >= 2 and count > size and parallel.can_fork():
        results = parallel.check_ranges(path, top, signed, workers=workers, size=size, sql=sql)
        with closing(results):
            return parallel.first_bad(results, progress)
    if not sql:
        return 1, GENESIS, False
    try:
        conn = sqlverify.connect(path)
    except sqlverify.Unavailable:
        return 1, GENESIS, False
    try:
        spans = parallel.ranges(top, size)
        checked = (sqlverify.check_range(conn, a, b, signed) for a, b in spans)
        return parallel.first_bad(checked, progress)
    finally:
        conn.close()


def _postgres_verify(
    raw: Any, signed: dict[int, str], size: int, progress: Callable[[int], None] | None
) -> tuple[int, str, bool]:
    """Ranges checked by PostgreSQL itself (``sha256(bytea)``), in order, in this transaction."""
    driver = raw.driver_connection
    _count, top, dense = _extent(driver)
    if not dense:  # empty, or rows outside 1..N: the walker says which
        return 1, GENESIS, False
    spans = parallel.ranges(top, size)
    checked = (sqlverify.check_range_pg(driver, a, b, signed) for a, b in spans)
    return parallel.first_bad(checked, progress)


def _stream(raw: Any, batch: int, start: int = 1) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in position order, ``batch`` at a time, from the DB-API driver.

    From ``start`` on; from 1 means every row, positions below 1 included.
    """
    driver = raw.driver_connection
    if type(driver).__module__.startswith("psycopg"):
        cursor = driver.cursor(name="integritet_audit_verify")  # server-side cursor
        cursor.itersize = batch
        mark = "%s"
    else:
        cursor = raw.cursor()
        mark = "?"
    try:
        if start > 1:
            cursor.execute(_SELECT_ROWS.format(f" WHERE position >= {mark}"), (start,))
        else:
            cursor.execute(_SELECT_ROWS.format(""))
        while rows := cursor.fetchmany(batch):
            yield rows
    finally:
        cursor.close()


def _checked(head: tuple[int, str], checkpoints: int, bad: int, reason: str) -> VerifyResult:
    return VerifyResult(False, head[0], head[0], head[1], checkpoints, bad, reason)


def _checkpoint_of(row: AuditCheckpointRow) -> Checkpoint:
    return Checkpoint(row.position, row.hash, row.at, row.public_key, row.signature)


def _entry_of(row: AuditEventRow) -> AuditEntry:
    return AuditEntry(
        position=row.position,
        at=parse_at(row.at),
        actor=row.actor,
        action=row.action,
        outcome=row.outcome,
        purpose=row.purpose,
        subject=row.subject,
        customer=row.customer,
        detail=json.loads(row.detail),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
