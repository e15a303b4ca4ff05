"""Rectification (Art. 16) in a connected database: the person's corrections, applied.

A correction names either a manifest category field, ``"contact.phone"``, or a column,
``"phone"``. A category field reaches every mapped column of the person's rows whose
``category`` is that category and whose name is the field; a bare column name reaches every
mapped column of that name. Tables the map keeps under a legal hold (``erase: hold``, e.g.
invoices under Bokföringslagen) are not changed: what was booked stays as it was booked,
and the report says so.

:class:`RectifyReport` names tables, columns, row keys and the corrections that reached no
column, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table

from integritet.connectors.erasure import Found
from integritet.errors import ConnectorError
from integritet.manifest.model import ColumnErasure, DatasetTable


@dataclass
class RectifyReport:
    """What a rectification changed in one database. Keys and column names only."""

    dataset: str
    changed: dict[str, dict[str, list[Any]]] = field(default_factory=dict)  # table -> col -> keys
    unchanged: int = 0  # cells that already held the corrected value
    held: dict[str, list[Any]] = field(default_factory=dict)  # table -> keys left as booked
    unmatched: list[str] = field(default_factory=list)  # corrections that reached no column

    def note(self, table: str, column: str, key: Any) -> None:
        self.changed.setdefault(table, {}).setdefault(column, []).append(key)

    @property
    def cells(self) -> int:
        return sum(len(keys) for cols in self.changed.values() for keys in cols.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "changed": self.cells,
            "unchanged": self.unchanged,
            "tables": [
                {
                    "table": table,
                    "columns": sorted(cols),
                    "keys": sorted({str(k) for keys in cols.values() for k in keys}),
                }
                for table, cols in sorted(self.changed.items())
            ],
            "held": {table: [str(k) for k in keys] for table, keys in sorted(self.held.items())},
            "unmatched": sorted(self.unmatched),
        }


def targets(
    specs: Mapping[str, DatasetTable], changes: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``{table: {column: value}}`` for the corrections, and the corrections that reach none."""
    found: dict[str, dict[str, Any]] = {}
    unmatched: list[str] = []
    for target, value in changes.items():
        category, dot, name = target.rpartition(".")
        hits = [
            (spec.name, column)
            for spec in specs.values()
            for column, col in spec.columns.items()
            if column == name and (not dot or col.category == category)
        ]
        if not name or not hits:
            unmatched.append(target)
        for table, column in hits:
            found.setdefault(table, {})[column] = value
    return found, unmatched


def apply(
    conn: Connection,
    tables: Mapping[str, Table],
    specs: Mapping[str, DatasetTable],
    found: Found,
    changes: Mapping[str, Any],
    report: RectifyReport,
) -> None:
    """Write the corrections to the person's rows in ``found`` (inside the caller's
    transaction); cells already holding the value are left alone."""
    wanted, report.unmatched = targets(specs, changes)
    for table_name, values in wanted.items():
        spec = specs[table_name]
        rows = found.get(table_name, {})
        if spec.erase == ColumnErasure.hold:
            if rows:
                report.held[table_name] = sorted(rows, key=str)
            continue
        table = tables[table_name]
        key_col = table.c[spec.key]
        for key, row in rows.items():
            update = {c: v for c, v in values.items() if row.get(c) != v}
            report.unchanged += len(values) - len(update)
            if not update:
                continue
            result = conn.execute(table.update().where(key_col == key).values(update))
            if getattr(result, "rowcount", 1) == 0:
                raise ConnectorError(f"{table_name}: row {key} vanished during rectification")
            for column in sorted(update):
                report.note(table_name, column, key)
