"""Erasure planning and execution for the SQL connector.

Given the rows that belong to a person (collected by :mod:`integritet.connectors.sql`),
:func:`plan` decides per row what the dataset map says: delete the row, null or mask
columns, keep it, or keep it under a legal hold. A reference from a row that stays to a
row that goes is cleared (set to NULL) so the foreign key holds. :func:`apply` then runs
the statements in dependency order — tables that point at others first — inside the
caller's transaction.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, String, Table, delete, update
from sqlalchemy.exc import SQLAlchemyError

from integritet.connectors.base import ErasureReport, TableErasure
from integritet.errors import ConfigError, ConnectorError
from integritet.manifest.model import ColumnErasure, DatasetTable

Found = dict[str, dict[Any, dict[str, Any]]]  # table -> row key -> column values
MASK = "[erased]"
CHUNK = 500


@dataclass(frozen=True)
class Edge:
    """``child.column`` refers to ``parent.to``."""

    child: str
    column: str
    parent: str
    to: str
    follow: str = "none"


@dataclass
class TablePlan:
    deletes: list[Any] = field(default_factory=list)
    updates: dict[Any, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Shape:
    """What the planner needs to know about the tables besides the map."""

    tables: dict[str, Table]
    unique: frozenset[tuple[str, str]]  # single-column unique constraints
    redact: Callable[[str], str] | None
    hold_reason: Callable[[DatasetTable, set[str]], str]


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def row_action(spec: DatasetTable) -> ColumnErasure | None:
    """The action for whole rows, or None when columns decide one by one."""
    if spec.erase is not None:
        return spec.erase
    if any(col.erase == ColumnErasure.delete for col in spec.columns.values()):
        return ColumnErasure.delete
    return None


def order(names: Iterable[str], edges: Iterable[Edge]) -> list[str]:
    """Tables in erasure order: a table that refers to another comes before it."""
    graph: dict[str, set[str]] = {name: set() for name in names}
    for edge in edges:
        if edge.child != edge.parent and edge.parent in graph and edge.child in graph:
            graph[edge.parent].add(edge.child)
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(str(n) for n in exc.args[1])
        raise ConfigError(
            f"the references between tables form a cycle ({cycle}), so there is no safe "
            "erasure order: remove one of these references from the dataset map"
        ) from exc


def mask_value(shape: Shape, table: str, column: str, key: Any, value: Any) -> Any:
    """The masked replacement: redacted free text, a marker for strings, NULL otherwise."""
    col_type = shape.tables[table].c[column].type
    if not isinstance(col_type, String):
        return None
    if shape.redact is not None and isinstance(value, str):
        return shape.redact(value)
    token = f"[erased:{key}]" if (table, column) in shape.unique else MASK
    length = getattr(col_type, "length", None)
    return token[:length] if length else token


def _plan_row(
    spec: DatasetTable,
    shape: Shape,
    key: Any,
    row: dict[str, Any],
    out: tuple[TablePlan, TableErasure],
    release_holds: bool,
) -> None:
    plan, done = out
    action = row_action(spec)
    if action == ColumnErasure.hold and release_holds:
        action = ColumnErasure.delete
    if action == ColumnErasure.delete:
        plan.deletes.append(key)
        done.deleted.append(key)
        return
    if action == ColumnErasure.hold:
        done.held.append(key)
        _reason(done, shape.hold_reason(spec, _categories(spec, spec.columns)))
        return
    if action == ColumnErasure.keep:
        return
    changes: dict[str, Any] = {}
    for name, col in spec.columns.items():
        if name == spec.key or row.get(name) is None:
            continue
        what = action or col.erase
        if what == ColumnErasure.hold and release_holds:
            what = ColumnErasure.null
        if what == ColumnErasure.null:
            changes[name] = None
            done.note_null(name, key)
        elif what == ColumnErasure.mask:
            changes[name] = mask_value(shape, spec.name, name, key, row[name])
            done.note_mask(name, key)
        elif what == ColumnErasure.hold:
            if key not in done.held:
                done.held.append(key)
            _reason(done, shape.hold_reason(spec, _categories(spec, [name])))
    if changes:
        plan.updates[key] = changes


def _categories(spec: DatasetTable, columns: Iterable[str]) -> set[str]:
    return {c for name in columns if (c := spec.columns[name].category) is not None}


def _reason(done: TableErasure, reason: str) -> None:
    if reason not in done.reasons:
        done.reasons.append(reason)


def plan(
    specs: dict[str, DatasetTable],
    shape: Shape,
    edges: Sequence[Edge],
    found: Found,
    report: ErasureReport,
    *,
    release_holds: bool = False,
) -> dict[str, TablePlan]:
    """Decide every row's fate and record it in ``report``."""
    plans: dict[str, TablePlan] = {}
    for name, rows in found.items():
        plans[name] = TablePlan()
        done = report.table(name)
        for key, row in rows.items():
            _plan_row(specs[name], shape, key, row, (plans[name], done), release_holds)
    _clear_references(edges, found, plans, report)
    return plans


def _clear_references(
    edges: Sequence[Edge], found: Found, plans: dict[str, TablePlan], report: ErasureReport
) -> None:
    """Null references from surviving rows to deleted rows, so foreign keys hold."""
    for edge in edges:
        parent_plan = plans.get(edge.parent)
        if parent_plan is None or not parent_plan.deletes or edge.child not in found:
            continue
        gone = {found[edge.parent][k][edge.to] for k in parent_plan.deletes}
        child_plan = plans[edge.child]
        dropped = set(child_plan.deletes)
        for key, row in found[edge.child].items():
            if key in dropped or row.get(edge.column) not in gone:
                continue
            child_plan.updates.setdefault(key, {})[edge.column] = None
            done = report.table(edge.child)
            if key not in done.nulled.get(edge.column, []):
                done.note_null(edge.column, key)
            _reason(
                done,
                f"reference {edge.column} cleared: the {edge.parent} row it pointed to was erased",
            )


def apply(
    conn: Connection,
    tables: dict[str, Table],
    keys: dict[str, str],
    sequence: Sequence[str],
    plans: dict[str, TablePlan],
) -> None:
    """Run the planned updates and deletes table by table, in ``sequence`` order."""
    for name in sequence:
        table_plan = plans.get(name)
        if table_plan is None:
            continue
        table = tables[name]
        key_col = table.c[keys[name]]
        try:
            for values, same in _grouped(table_plan.updates):
                for part in chunks(same):
                    conn.execute(update(table).where(key_col.in_(part)).values(values))
            for part in chunks(table_plan.deletes):
                conn.execute(delete(table).where(key_col.in_(part)))
        except SQLAlchemyError as exc:
            raise ConnectorError(
                f"erasure rolled back: table {name} refused the change ({type(exc).__name__}); "
                "is another table referring to it missing from the dataset map?"
            ) from exc


def _grouped(updates: dict[Any, dict[str, Any]]) -> list[tuple[dict[str, Any], list[Any]]]:
    """Rows that get the same new values, together: one ``UPDATE ... WHERE key IN`` each."""
    groups: dict[Any, tuple[dict[str, Any], list[Any]]] = {}
    for key, values in updates.items():
        try:
            marker: Any = tuple(sorted(values.items()))
            hash(marker)
        except TypeError:  # an unhashable value: its own statement
            marker = ("row", key)
        groups.setdefault(marker, (values, []))[1].append(key)
    return list(groups.values())
