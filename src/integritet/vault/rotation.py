"""KEK rotation over every secret sealed directly under the key-encryption key.

The KEK wraps more than the rows of ``vault_keys``: a feature that seals a secret directly
under it (staff TOTP secrets in ``api_users``) registers the column here with
:func:`register`, next to its table declaration, so :func:`rotate` re-wraps it too::

    register(SealedColumn("api_users", "username", "totp_sealed", "totp_kek", totp_key_id))

A :class:`SealedColumn` names the table, its primary-key column, the column holding the
wrapped value, the column holding the id of the KEK that wrapped it, and how a row's id
becomes the key id the value was wrapped with (the associated data). ``vault_keys`` is
registered here.

:func:`rotate` is restartable: it first writes a key file holding the old and the new KEK
(atomically, via rename), then re-wraps every registered column in committed batches,
repeating until a full pass finds nothing left under an old KEK, and only then removes the
old KEK from the file. A crash at any point leaves every secret openable by a KEK in the
file; running it again finishes the job instead of starting another rotation.

It rotates the KEK only: not the keys it wraps (record ciphertext is untouched), not the
blind-index key's value, not ``requests-keys.json``, ``audit-signing.key`` or
``unsubscribe.key``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, ColumnElement, Engine, Table, func, select, update

from integritet.db import Base, import_models
from integritet.vault import crypto, faults
from integritet.vault.keys import KeyRing, RotationResult, kek_id, write_key_file

Progress = Callable[[int], None]


@dataclass(frozen=True)
class SealedColumn:
    """A column of values wrapped directly by the KEK, with the wrapping KEK's id beside it."""

    table: str
    id: str
    sealed: str
    kek: str
    key_id: Callable[[str], str]  # a row's id -> the key id it was wrapped with

    @property
    def label(self) -> str:
        return f"{self.table}.{self.sealed}"

    def columns(self) -> tuple[Table, Column[str], Column[bytes], Column[str]]:
        table = Base.metadata.tables[self.table]
        return table, table.c[self.id], table.c[self.sealed], table.c[self.kek]


def _same(key_id: str) -> str:
    return key_id


_registry: dict[str, SealedColumn] = {}


def register(column: SealedColumn) -> SealedColumn:
    """Declare a column sealed under the KEK, so every rotation re-wraps it (idempotent)."""
    _registry[column.label] = column
    return column


register(SealedColumn("vault_keys", "id", "wrapped", "kek_id", _same))


def sealed_columns() -> tuple[SealedColumn, ...]:
    """Every registered column (importing all model modules first, so none is missed)."""
    import_models()
    return tuple(_registry.values())


def _stale(column: SealedColumn, current: str) -> list[ColumnElement[bool]]:
    """The conditions for a value still wrapped by a KEK other than ``current``."""
    _table, _ident, sealed, kek = column.columns()
    return [sealed.is_not(None), kek.is_not(None), kek != current]


def pending(engine: Engine, ring: KeyRing) -> dict[str, int]:
    """Per registered column: how many values are still wrapped by a KEK not current."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for column in sealed_columns():
            where = _stale(column, ring.current)
            table = column.columns()[0]
            n = conn.scalar(select(func.count()).select_from(table).where(*where))
            counts[column.label] = int(n or 0)
    return counts


def _rewrap_batch(engine: Engine, ring: KeyRing, column: SealedColumn, batch: int) -> int:
    """Re-wrap up to ``batch`` stale values of one column in one transaction."""
    table, ident, sealed, kek = column.columns()
    where = _stale(column, ring.current)
    with engine.begin() as conn:
        rows = conn.execute(
            select(ident, sealed, kek).where(*where).order_by(ident).limit(batch)
        ).all()
        for row_id, wrapped, wrapped_by in rows:
            key_id = column.key_id(row_id)
            plain = ring.unwrap(wrapped, key_id, wrapped_by)
            new, new_kek = ring.wrap(plain, key_id)
            # only if nobody changed the row meanwhile (a concurrent re-enrolment wins;
            # the next pass picks the row up again if it is still under an old KEK)
            conn.execute(
                update(table)
                .where(ident == row_id, sealed == wrapped, kek == wrapped_by)
                .values({sealed.name: new, kek.name: new_kek})
            )
    return len(rows)


def _rewrap_all(
    engine: Engine, ring: KeyRing, batch: int, progress: Progress | None
) -> dict[str, int]:
    """Re-wrap every registered column until a full pass finds nothing stale."""
    counts = {column.label: 0 for column in sealed_columns()}
    while True:
        moved = 0
        for column in sealed_columns():
            while n := _rewrap_batch(engine, ring, column, batch):
                counts[column.label] += n
                moved += n
                faults.point("rotate.batch_committed")
                if progress is not None:
                    progress(n)
        if not moved:
            return counts


def _with_new_kek(ring: KeyRing) -> KeyRing:
    """Write a key file holding the old KEK(s) and a new current one."""
    assert ring.path is not None
    key = crypto.new_key()
    kid = kek_id(key)
    keks = {**ring.keks, kid: key}
    write_key_file(ring.path, kid, keks)
    return KeyRing(current=kid, keks=keks, source="file", path=ring.path)


def rotate(
    engine: Engine, ring: KeyRing, *, batch: int = 500, progress: Progress | None = None
) -> RotationResult:
    """Re-wrap every secret sealed under the KEK with a new KEK (or finish an interrupted one).

    ``progress(n)`` is called after each committed batch of ``n`` values.
    """
    resumed = len(ring.keks) > 1
    if ring.source == "file" and not resumed:
        ring = _with_new_kek(ring)
        faults.point("rotate.key_file_written")
    counts = _rewrap_all(engine, ring, batch, progress)
    retired = tuple(k for k in ring.keks if k != ring.current)
    if ring.source == "file" and retired:
        assert ring.path is not None
        write_key_file(ring.path, ring.current, {ring.current: ring.current_key})
        faults.point("rotate.old_key_removed")
    return RotationResult(
        new_kek=ring.current,
        rewrapped=sum(counts.values()),
        retired=retired,
        resumed=resumed,
        columns=tuple(counts.items()),
    )
