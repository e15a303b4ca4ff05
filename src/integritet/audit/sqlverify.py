"""Verify ranges of a SQLite chain inside SQLite: hashes recomputed in C, no row objects.

With the ``sqlean.py`` package (SQLite 3.50 with the ``crypto`` extension's ``sha256()``
SQL function), one statement per range recomputes every row's hash from the canonical
encoding, compares it with the stored one, checks each row's ``prev_hash`` against the
previous row's ``hash`` (a self-join on ``position - 1``, cheaper than ``LAG``), and
counts the rows that fail; Python handles one result row per range.

The statement is a *sound* check of everything :class:`~integritet.audit.chain.ChainWalker`
checks: when it says a range is intact, the walker would accept the range too.

- the hash: ``lower(hex(sha256(enc)))`` compared exactly (``IS``, so NULL fails) with the
  stored text; ``||`` and ``sha256()`` keep embedded NUL bytes (``printf`` would not);
  an integer's text form in SQLite is Python's ``str(int)``;
- types: every field must be TEXT (a BLOB with the same bytes would hash alike; the walker
  rejects it), the optional ones TEXT or NULL, never ``''``;
- separators: no U+001F in any field (moving one between two adjacent fields keeps the
  encoding, and its hash, the same; the walker rejects it). ``prev_hash`` and ``hash``
  need no look: they equal lowercase hex digests checked here or in the range before;
- positions: ``count(*)`` over ``BETWEEN start AND end`` on the integer primary key must
  be the range's length, so no position is missing;
- checkpoints: the signed positions inside the range are looked up one by one.

A range reports what :func:`~integritet.audit.parallel.check_range` reports (its first link
and last hash, read in the same read transaction), so the parent checks the seams and, at
the first doubtful range, resumes the Python walker there: the position and reason verify
reports are the walker's own, whichever path answered "intact".

The connection is read-only (``mode=ro`` URI): SQLite 3.50 reads the WAL-mode file the
stdlib's SQLite writes (same file format), and in WAL mode a reader neither blocks nor is
blocked by a concurrent writer; it sees the snapshot of its transaction. Without
``sqlean.py`` (or when the file cannot be opened this way) verify walks the rows in Python.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from integritet.audit.parallel import RangeResult

try:  # optional at run time: without it verify walks the rows in Python
    import sqlean
except ImportError:  # pragma: no cover - sqlean.py is a dependency
    sqlean = None

_SEP = "char(31)"
_OPTIONAL = ("purpose", "subject", "customer")
_TEXT = ("at", "actor", "action", "outcome", "detail", "prev_hash", "hash")
_NO_SEP = ("at", "actor", "action", "outcome", "detail")
_ENCODING = f"||{_SEP}||".join(
    [
        "a.position",
        "a.at",
        "a.actor",
        "a.action",
        "a.outcome",
        *(f"coalesce(a.{c}, '')" for c in _OPTIONAL),
        "a.detail",
        "a.prev_hash",
    ]
)
_GOOD = " AND ".join(
    [
        f"lower(hex(sha256({_ENCODING}))) IS a.hash",
        "(a.position = :start OR a.prev_hash IS b.hash)",
        *(f"typeof(a.{c}) = 'text'" for c in _TEXT),
        *(f"instr(a.{c}, {_SEP}) = 0" for c in _NO_SEP),
        *(
            f"(a.{c} IS NULL"
            f" OR (typeof(a.{c}) = 'text' AND a.{c} <> '' AND instr(a.{c}, {_SEP}) = 0))"
            for c in _OPTIONAL
        ),
    ]
)
# Rows in the range, and how many of them are not exactly what append would have written.
RANGE_CHECK_SQL = (
    f"SELECT count(*), count(CASE WHEN ({_GOOD}) IS NOT 1 THEN 1 END)"
    " FROM audit_events a LEFT JOIN audit_events b ON b.position = a.position - 1"
    " WHERE a.position BETWEEN :start AND :end"
)
_PREV_HASH = "SELECT prev_hash FROM audit_events WHERE position = ?"
_HASH = "SELECT hash FROM audit_events WHERE position = ?"

# PostgreSQL (opt-in, ``verify(sql=True)``: ~5 us/row in the server here, no faster than
# the Python walker): the same check with its built-in sha256(bytea). Its columns are typed
# (varchar cannot hold a BLOB or a NUL) and equality under a deterministic collation is
# byte equality, so no type checks are needed; the separator is looked for with strpos.
_PG_ENCODING = " || chr(31) || ".join(
    [
        "a.position::text",
        "a.at",
        "a.actor",
        "a.action",
        "a.outcome",
        *(f"coalesce(a.{c}, '')" for c in _OPTIONAL),
        "a.detail",
        "a.prev_hash",
    ]
)
_PG_GOOD = " AND ".join(
    [
        f"encode(sha256(convert_to({_PG_ENCODING}, 'UTF8')), 'hex') = a.hash",
        "(a.position = %(start)s OR a.prev_hash = b.hash)",
        *(f"strpos(a.{c}, chr(31)) = 0" for c in _NO_SEP),
        *(f"(a.{c} IS NULL OR (a.{c} <> '' AND strpos(a.{c}, chr(31)) = 0))" for c in _OPTIONAL),
    ]
)
PG_RANGE_CHECK_SQL = (
    f"SELECT count(*), count(*) FILTER (WHERE ({_PG_GOOD}) IS NOT TRUE)"
    " FROM audit_events a LEFT JOIN audit_events b ON b.position = a.position - 1"
    " WHERE a.position BETWEEN %(start)s AND %(end)s"
)


class Unavailable(RuntimeError):
    """SQLite cannot check the chain here: no ``sqlean.py``, or the file would not open."""


def available() -> bool:
    """Whether SQLite can check the chain itself here (``sqlean.py`` importable)."""
    return sqlean is not None


def connect(path: str) -> Any:
    """A read-only ``sqlean`` connection to ``path`` with ``sha256()``, or :class:`Unavailable`.

    The ``crypto`` extension is switched on for this connection only (sqlean reads the
    environment when connecting); the environment is left as it was.
    """
    if sqlean is None:
        raise Unavailable("sqlean.py is not installed")
    flag = "SQLEAN_ENABLE_CRYPTO"
    before = os.environ.get(flag)
    os.environ[flag] = "1"
    uri = f"file:{quote(str(Path(path).absolute()))}?mode=ro"
    try:
        conn = sqlean.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlean.Error as exc:
        raise Unavailable(f"cannot open the database read-only: {exc}") from exc
    finally:
        if before is None:
            del os.environ[flag]
        else:
            os.environ[flag] = before
    try:  # the first read opens the file (and, in WAL mode, its -shm)
        conn.execute("SELECT sha256('') FROM audit_events LIMIT 1").fetchall()
    except sqlean.Error as exc:
        conn.close()
        raise Unavailable(f"cannot check the chain in SQL: {exc}") from exc
    return conn


def check_range(conn: Any, start: int, end: int, signed: Mapping[int, str]) -> RangeResult:
    """Check rows ``start..end`` in SQL; the link into ``start`` is the caller's to check.

    An error from sqlean (a damaged file, say) only puts the range in doubt: the walker,
    on the stdlib's connection, then reads it and answers (or raises) as it always did.
    """
    try:
        conn.execute("BEGIN")  # one snapshot for the range, its first link and last hash
        try:
            return _check(conn, RANGE_CHECK_SQL, "?", start, end, signed)
        finally:
            conn.execute("COMMIT")
    except sqlean.Error:
        return RangeResult(start, end, False)


def check_range_pg(conn: Any, start: int, end: int, signed: Mapping[int, str]) -> RangeResult:
    """:func:`check_range` on PostgreSQL, ``conn`` a psycopg connection (in a transaction)."""
    return _check(conn, PG_RANGE_CHECK_SQL, "%s", start, end, signed)


def _check(
    conn: Any, sql: str, mark: str, start: int, end: int, signed: Mapping[int, str]
) -> RangeResult:
    count, bad = conn.execute(sql, {"start": start, "end": end}).fetchone()
    if count != end - start + 1 or bad:
        return RangeResult(start, end, False)
    first_link = _value(conn, _PREV_HASH.replace("?", mark), start)
    last_hash = _value(conn, _HASH.replace("?", mark), end)
    if first_link is None or last_hash is None:
        return RangeResult(start, end, False)
    for position, digest in signed.items():
        if start <= position <= end and _value(conn, _HASH.replace("?", mark), position) != digest:
            return RangeResult(start, end, False)
    return RangeResult(start, end, True, first_link, last_hash)


def _value(conn: Any, sql: str, position: int) -> str | None:
    row = conn.execute(sql, (position,)).fetchone()
    return row[0] if row is not None and isinstance(row[0], str) else None
