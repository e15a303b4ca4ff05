"""Scan database columns for personal data, and find and remove it from free-text columns.

Works on any SQLAlchemy URL (SQLite, PostgreSQL, MariaDB). Tables are reflected,
rows streamed in batches. :func:`remove_pii` replaces each finding in a free-text
column with ``[TYPE]`` (L2: personal data typed where it should not be is removed)
and reports counts only.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, Engine, MetaData, String, Table, Text, select, update
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from integritet.db import make_engine
from integritet.errors import ConnectorError, PIIInputError
from integritet.manifest.model import Dataset, Manifest
from integritet.pii.core import detect, redact
from integritet.pii.scan import ScanReport

BATCH = 500
Progress = Callable[[int], None]


def _table(engine: Engine, name: str) -> Table:
    try:
        return Table(name, MetaData(), autoload_with=engine)
    except NoSuchTableError:
        raise PIIInputError(f"table {name!r} does not exist") from None
    except SQLAlchemyError as exc:
        raise ConnectorError(f"cannot read table {name!r} ({type(exc).__name__})") from None


def _text_columns(table: Table, columns: Collection[str] | None) -> list[Column[str]]:
    if columns is None:
        return [c for c in table.columns if isinstance(c.type, String | Text)]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise PIIInputError(f"table {table.name!r} has no column {missing[0]!r}")
    return [table.columns[c] for c in columns]


def count_rows(engine: Engine, table: str) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(_table(engine, table))).scalar_one()
        )


def _rows(engine: Engine, table: Table, cols: list[Column[str]]) -> Iterator[tuple[object, ...]]:
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=BATCH).execute(select(*cols))
        yield from result.tuples()


def scan_database(
    url: str,
    table: str,
    columns: Collection[str] | None = None,
    *,
    min_score: float = 0.5,
    progress: Progress = lambda _n: None,
) -> ScanReport:
    """Scan the text columns of ``table`` (or ``columns``); sources are ``table.column``."""
    engine = make_engine(url)
    try:
        return _scan(engine, table, columns, min_score, progress)
    finally:
        engine.dispose()


def _scan(
    engine: Engine,
    table: str,
    columns: Collection[str] | None,
    min_score: float,
    progress: Progress,
) -> ScanReport:
    report = ScanReport()
    tbl = _table(engine, table)
    cols = _text_columns(tbl, columns)
    names = [f"{table}.{c.name}" for c in cols]
    for name in names:
        report.scanned[name] += 0
    if not cols:
        report.warnings.append(f"{table}: no text columns")
        return report
    for row in _rows(engine, tbl, cols):
        for name, value in zip(names, row, strict=True):
            if isinstance(value, str) and value:
                report.add(name, detect(value, min_score=min_score))
        progress(1)
    return report


def dataset_url(dataset: Dataset) -> str:
    """The dataset's SQLAlchemy URL, from its ``url_env`` variable or its ``url``."""
    if dataset.url_env:
        value = os.environ.get(dataset.url_env)
        if value:
            return value
        if not dataset.url:
            raise PIIInputError(f"dataset {dataset.id!r}: ${dataset.url_env} is not set")
    if not dataset.url:
        raise PIIInputError(f"dataset {dataset.id!r} has no url or url_env")
    return dataset.url


def free_text_columns(manifest: Manifest) -> Iterator[tuple[Dataset, str, list[str], str]]:
    """(dataset, table, free-text columns, key column) for every table that has some."""
    for ds in manifest.datasets:
        for tbl in ds.tables:
            cols = [name for name, spec in tbl.columns.items() if spec.free_text]
            if cols:
                yield ds, tbl.name, cols, tbl.key


def scan_datasets(
    manifest: Manifest, *, min_score: float = 0.5, progress: Progress = lambda _n: None
) -> ScanReport:
    """Scan every free-text column the manifest's ``datasets`` declare."""
    report = ScanReport()
    for ds, table, cols, _key in free_text_columns(manifest):
        part = scan_database(dataset_url(ds), table, cols, min_score=min_score, progress=progress)
        _merge(report, part, prefix=f"{ds.id}:")
    return report


def _merge(into: ScanReport, part: ScanReport, prefix: str) -> None:
    for src, n in part.scanned.items():
        into.scanned[prefix + src] += n
    for src, counts in part.counts.items():
        into.counts[prefix + src].update(counts)
    for src, by_type in part.examples.items():
        for kind, shown in by_type.items():
            into.examples[prefix + src][kind].extend(shown)
    into.warnings.extend(prefix + w for w in part.warnings)


@dataclass
class RemovalReport:
    """What find-and-remove changed: rows updated and findings removed per ``table.column``."""

    rows: int = 0
    removed: dict[str, Counter[str]] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.removed.values())


def remove_pii(
    url: str,
    table: str,
    columns: Collection[str],
    *,
    key: str = "id",
    min_score: float = 0.5,
    dry_run: bool = False,
    progress: Progress = lambda _n: None,
) -> RemovalReport:
    """Replace findings in free-text ``columns`` with ``[TYPE]``, one transaction per batch."""
    engine = make_engine(url)
    try:
        tbl = _table(engine, table)
        if key not in tbl.columns:
            raise PIIInputError(f"table {table!r} has no key column {key!r}")
        cols = _text_columns(tbl, columns)
        report = RemovalReport(dry_run=dry_run)
        changes = _changes(engine, tbl, key, cols, min_score, report, progress)
        if not dry_run:
            for start in range(0, len(changes), BATCH):
                with engine.begin() as conn:
                    for pk, values in changes[start : start + BATCH]:
                        conn.execute(update(tbl).where(tbl.columns[key] == pk).values(**values))
        report.rows = len(changes)
        return report
    finally:
        engine.dispose()


def _changes(
    engine: Engine,
    tbl: Table,
    key: str,
    cols: list[Column[str]],
    min_score: float,
    report: RemovalReport,
    progress: Progress,
) -> list[tuple[object, dict[str, str]]]:
    changes: list[tuple[object, dict[str, str]]] = []
    for row in _rows(engine, tbl, [tbl.columns[key], *cols]):
        values: dict[str, str] = {}
        for col, value in zip(cols, row[1:], strict=True):
            if not isinstance(value, str) or not value:
                continue
            found = detect(value, min_score=min_score)
            if found:
                values[col.name] = redact(value, found=found)
                counter = report.removed.setdefault(f"{tbl.name}.{col.name}", Counter())
                counter.update(e.type for e in found)
        if values:
            changes.append((row[0], values))
        progress(1)
    return changes


def remove_from_datasets(
    manifest: Manifest, *, dry_run: bool = False, progress: Progress = lambda _n: None
) -> RemovalReport:
    """Find and remove personal data in every free-text column of the manifest's datasets."""
    total = RemovalReport(dry_run=dry_run)
    for ds, table, cols, key in free_text_columns(manifest):
        part = remove_pii(dataset_url(ds), table, cols, key=key, dry_run=dry_run, progress=progress)
        total.rows += part.rows
        for src, counts in part.removed.items():
            total.removed[f"{ds.id}:{src}"] = counts
    return total
