"""``integritet scan``: find (and redact or remove) personal data in text, files and databases."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any, BinaryIO

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from integritet.cli.app import app
from integritet.cli.common import PolicyOption, err, load_policy, out, print_json
from integritet.errors import PIIInputError
from integritet.manifest import Manifest
from integritet.pii import ENTITY_TYPES, Entity, redact
from integritet.pii.database import (
    RemovalReport,
    count_rows,
    remove_from_datasets,
    remove_pii,
    scan_database,
    scan_datasets,
)
from integritet.pii.scan import ScanReport, read_jsonl, scan_files, scan_stream, shift


class ScanFormat(StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"


def _entities(value: str | None) -> list[str] | None:
    if not value:
        return None
    kinds = [k.strip().upper() for k in value.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in ENTITY_TYPES]
    if unknown:
        raise PIIInputError(f"unknown entity type {unknown[0]}; known: {', '.join(ENTITY_TYPES)}")
    return kinds


@contextmanager
def _progress(what: str, total: int | None) -> Iterator[Progress]:
    """A progress bar on stderr, shown only when stderr is a terminal."""
    bar = Progress(
        TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=not err.is_terminal, transient=True,
    )  # fmt: skip
    with bar:
        bar.add_task(what, total=total)
        yield bar


def _advance(bar: Progress, n: int = 1) -> None:
    bar.advance(bar.task_ids[0], n)


@contextmanager
def _open_input(path: Path | None) -> Iterator[BinaryIO]:
    if path is None or str(path) == "-":
        yield sys.stdin.buffer
        return
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise PIIInputError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        yield fh


def _entity_rows(found: list[Entity]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in found]


def _print_summary(report: ScanReport, fmt: ScanFormat) -> None:
    if fmt is not ScanFormat.text:
        print_json(report.to_dict())
        return
    for warning in report.warnings:
        err.print(f"warning: {warning}", markup=False)
    if report.total == 0:
        out.print(f"no personal data found ({len(report.scanned)} sources scanned)")
        return
    table = Table("source", "type", "count", "examples (masked)")
    for src, counts in report.counts.items():
        for kind, n in counts.most_common():
            table.add_row(src, kind, str(n), ", ".join(report.examples[src][kind]))
    out.print(table)
    out.print(f"{report.total} findings in {len(report.counts)} of {len(report.scanned)} sources")


def _print_removal(report: RemovalReport, fmt: ScanFormat) -> None:
    data = {
        "dry_run": report.dry_run,
        "rows": report.rows,
        "removed": {k: dict(v) for k, v in report.removed.items()},
    }
    if fmt is not ScanFormat.text:
        print_json(data)
        return
    verb = "would change" if report.dry_run else "changed"
    for src, counts in report.removed.items():
        out.print(f"{src}: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()))
    out.print(f"{verb} {report.rows} rows, {report.total} findings redacted")


def _scan_text(
    path: Path | None, fmt: ScanFormat, do_redact: bool, kinds: list[str] | None, min_score: float
) -> None:
    name = "-" if path is None else str(path)
    sink: IO[str] = sys.stdout
    found_all: list[Entity] = []
    offset = 0

    def warn(message: str) -> None:
        err.print(f"warning: {name}: {message}", markup=False)

    with _open_input(path) as stream:
        for piece, found in scan_stream(stream, entities=kinds, min_score=min_score, warn=warn):
            if do_redact:
                sink.write(redact(piece, found=found))
            elif fmt is ScanFormat.text:
                for e in shift(found, offset):
                    sink.write(f"{e.start}-{e.end}\t{e.type}\t{e.score:.2f}\t{e.text}\n")
            else:
                found_all.extend(shift(found, offset))
            offset += len(piece)
    if offset == 0:
        warn("empty input")
    if do_redact:
        sink.flush()
    elif fmt is ScanFormat.json:
        print_json({"source": name, "entities": _entity_rows(found_all)})
    elif fmt is ScanFormat.jsonl:
        sink.write(
            json.dumps({"id": name, "entities": _entity_rows(found_all)}, ensure_ascii=False)
        )
        sink.write("\n")


def _scan_jsonl(
    path: Path | None, fmt: ScanFormat, do_redact: bool, kinds: list[str] | None, min_score: float
) -> None:
    from integritet.pii import detect

    failed = 0
    rows: list[dict[str, Any]] = []
    with _open_input(path) as stream:
        for rec in read_jsonl(stream):
            if rec.error is not None:
                failed += 1
                err.print(f"error: line {rec.line}: {rec.error}", markup=False)
                continue
            found = detect(rec.text, entities=kinds, min_score=min_score)
            row: dict[str, Any] = {"id": rec.id}
            if do_redact:
                row["text"] = redact(rec.text, found=found)
            else:
                row["entities"] = _entity_rows(found)
            if fmt is ScanFormat.json:
                rows.append(row)
            elif fmt is ScanFormat.jsonl or do_redact:
                typer.echo(json.dumps(row, ensure_ascii=False))
            else:
                for e in found:
                    typer.echo(f"{rec.id}\t{e.start}-{e.end}\t{e.type}\t{e.score:.2f}\t{e.text}")
    if fmt is ScanFormat.json:
        print_json(rows)
    if failed:
        err.print(f"{failed} line(s) could not be scanned", markup=False)
        raise typer.Exit(1)


def _scan_database(
    url: str, table: str, columns: list[str] | None, fmt: ScanFormat, remove: bool,
    dry_run: bool, key: str, min_score: float,
) -> None:  # fmt: skip
    from integritet.db import make_engine

    engine = make_engine(url)
    try:
        total = count_rows(engine, table)
    finally:
        engine.dispose()
    with _progress(f"scanning {table}", total) as bar:
        if remove:
            if not columns:
                raise PIIInputError("--remove needs the free-text columns: give --column")
            removal = remove_pii(
                url, table, columns, key=key, min_score=min_score, dry_run=dry_run,
                progress=lambda n: _advance(bar, n),
            )  # fmt: skip
        else:
            report = scan_database(
                url, table, columns, min_score=min_score, progress=lambda n: _advance(bar, n)
            )
    if remove:
        _print_removal(removal, fmt)
    else:
        _print_summary(report, fmt)


@app.command()
def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to scan; '-' or nothing reads standard input."),
    ] = None,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help='Input has one {"id": ..., "text": ...} per line.')
    ] = False,
    fmt: Annotated[ScanFormat, typer.Option("--format", help="Output format.")] = ScanFormat.text,
    do_redact: Annotated[
        bool, typer.Option("--redact", help="Print the text with findings replaced by [TYPE].")
    ] = False,
    database: Annotated[str | None, typer.Option("--database", help="A SQLAlchemy URL.")] = None,
    table: Annotated[str | None, typer.Option("--table", help="Table to scan.")] = None,
    column: Annotated[
        list[str] | None, typer.Option("--column", help="Column to scan (repeatable).")
    ] = None,
    policy: PolicyOption = None,
    datasets: Annotated[
        bool, typer.Option("--datasets", help="Scan the manifest's free-text dataset columns.")
    ] = False,
    remove: Annotated[
        bool, typer.Option("--remove", help="Find and remove: redact findings in the columns.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --remove: count only.")] = False,
    key: Annotated[str, typer.Option("--key", help="Key column for --remove.")] = "id",
    entities: Annotated[
        str | None, typer.Option("--entities", help="Comma-separated types to look for.")
    ] = None,
    min_score: Annotated[float, typer.Option("--min-score", help="Lowest score reported.")] = 0.5,
) -> None:
    """Find personal data in text, JSONL, files and folders, or database columns."""
    kinds = _entities(entities)
    if datasets:
        _scan_datasets(load_policy(policy), fmt, remove, dry_run, min_score)
        return
    if database is not None:
        if not table:
            raise PIIInputError("--database needs --table")
        _scan_database(database, table, column, fmt, remove, dry_run, key, min_score)
        return
    _scan_inputs(paths or [], jsonl, fmt, do_redact, kinds, min_score)


def _scan_datasets(
    manifest: Manifest, fmt: ScanFormat, remove: bool, dry_run: bool, min_score: float
) -> None:
    with _progress("scanning datasets", None) as bar:
        if remove:
            removal = remove_from_datasets(
                manifest, dry_run=dry_run, progress=lambda n: _advance(bar, n)
            )
        else:
            report = scan_datasets(
                manifest, min_score=min_score, progress=lambda n: _advance(bar, n)
            )
    if remove:
        _print_removal(removal, fmt)
    else:
        _print_summary(report, fmt)


def _scan_inputs(
    paths: list[Path], jsonl: bool, fmt: ScanFormat, do_redact: bool,
    kinds: list[str] | None, min_score: float,
) -> None:  # fmt: skip
    single = len(paths) <= 1 and not (paths and paths[0].is_dir())
    if jsonl:
        if not single:
            raise PIIInputError("--jsonl reads one file or standard input")
        _scan_jsonl(paths[0] if paths else None, fmt, do_redact, kinds, min_score)
        return
    if single:
        path = paths[0] if paths else None
        if path is not None and str(path) != "-" and not path.exists():
            raise PIIInputError(f"{path}: no such file")
        _scan_text(path, fmt, do_redact, kinds, min_score)
        return
    if do_redact:
        raise PIIInputError("--redact works on one file or standard input, not on folders")
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise PIIInputError(f"{missing[0]}: no such file or folder")
    with _progress("scanning files", None) as bar:
        report = scan_files(
            paths, entities=kinds, min_score=min_score, progress=lambda _p: _advance(bar)
        )
    _print_summary(report, fmt)
