"""Remembered ``may_contact`` decisions, dropped whenever the SQLite database changes.

A decision depends on the consent ledger and on what the ledger's callbacks read
(restriction, objections, customer relationship), all in the same database. SQLite keeps a
per-connection counter, ``PRAGMA data_version``, that changes whenever *any other*
connection (this process's pool, another process) commits to the database file. The cache
reads it on its own connection before every check, which costs about a microsecond, and
forgets every decision when it moved. So a withdrawal, restriction, objection or
re-consent committed anywhere is seen by the very next check: the cache never answers from
a state older than the last commit. (A check that began before a commit may return the old
answer, exactly as it would without the cache.)

The version is read *before* a missing decision is computed and the decision is stored
under that version, so a commit that lands while it is being computed invalidates it.

Only file-backed SQLite databases are cached. PostgreSQL and others have no such counter;
there every check reads the database.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Generic, TypeVar

from sqlalchemy import Engine

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 100_000  # remembered decisions; all are dropped when full


class DecisionCache(Generic[K, V]):
    """Values by key, valid while the SQLite database file is unchanged."""

    def __init__(self, engine: Engine) -> None:
        database = engine.url.database
        self.enabled = (
            engine.dialect.name == "sqlite"
            and bool(database)
            and database != ":memory:"
            and "mode=memory" not in str(database)
        )
        self._database = database or ""
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._version: int | None = None
        self._known: dict[K, V] = {}

    def lookup(self, key: K) -> tuple[V | None, int | None]:
        """The remembered value (or None) and the version to :meth:`store` a new one under."""
        if not self.enabled:
            return None, None
        with self._lock:
            version = self._data_version()
            if version != self._version:
                self._known.clear()
                self._version = version
            return self._known.get(key), version

    def store(self, key: K, value: V, version: int | None) -> None:
        """Remember ``value`` if the database is still at ``version``."""
        if version is None:
            return
        with self._lock:
            if version != self._version:
                return
            if len(self._known) >= LIMIT:
                self._known.clear()
            self._known[key] = value

    def clear(self) -> None:
        with self._lock:
            self._known.clear()
            self._version = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._known.clear()
            self._version = None

    def _data_version(self) -> int:
        if self._conn is None:
            self._conn = sqlite3.connect(
                self._database, check_same_thread=False, isolation_level=None
            )
        row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])
