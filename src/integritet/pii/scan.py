"""Scans: text streams in bounded chunks, JSONL records, files and folders, summaries.

Memory stays bounded whatever the input: a stream is read in chunks of
``CHUNK`` characters with ``OVERLAP`` characters carried over, so an entity
cut by a chunk boundary is still found once, and a 100 MB single line never
sits in memory. Reports hold counts and masked examples only, never the
personal data itself.
"""

from __future__ import annotations

import codecs
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from integritet.errors import PIIInputError
from integritet.pii.core import Entity, detect, redact

CHUNK = 1 << 20
OVERLAP = 256
MAX_LINE = 16 << 20  # bytes in one JSONL line
EXAMPLES = 3


def mask(entity: Entity) -> str:
    """A masked example: the shape of the value, not the value (``a***@e***.se``)."""
    value = entity.text
    if entity.type == "EMAIL_ADDRESS" and "@" in value:
        local, _, domain = value.partition("@")
        host, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***.{tld}"
    if entity.type in ("PERSON", "ADDRESS"):
        return " ".join(w[:1] + "***" for w in value.split())
    out = []
    shown = 0
    for ch in value:
        if ch.isalnum():
            out.append(ch if shown < 2 else "*")
            shown += 1
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class ScanReport:
    """Counts per type per source (a file or a column) and a few masked examples."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[str, dict[str, list[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    scanned: Counter[str] = field(default_factory=Counter)  # values or chunks per source
    warnings: list[str] = field(default_factory=list)

    def add(self, source: str, entities: list[Entity]) -> None:
        self.scanned[source] += 1
        for e in entities:
            self.counts[source][e.type] += 1
            shown = self.examples[source][e.type]
            if len(shown) < EXAMPLES:
                masked = mask(e)
                if masked not in shown:
                    shown.append(masked)

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "sources": {
                src: {
                    "scanned": self.scanned[src],
                    "counts": dict(self.counts.get(src, {})),
                    "examples": {k: list(v) for k, v in self.examples.get(src, {}).items()},
                }
                for src in self.scanned
            },
            "warnings": list(self.warnings),
        }


def _decoded_chunks(stream: BinaryIO, warn: Callable[[str], None]) -> Iterator[str]:
    """Decode ``stream`` as UTF-8 in bounded chunks; invalid bytes become U+FFFD (warned once)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    first = True
    warned = False
    while True:
        raw = stream.read(CHUNK)
        if first and b"\x00" in raw[:8192]:
            raise PIIInputError("input looks binary (it contains NUL bytes); not scanned")
        first = False
        text = decoder.decode(raw, final=not raw)
        if "\ufffd" in text and not warned:
            warn("input is not valid UTF-8; invalid bytes were replaced")
            warned = True
        if text:
            yield text
        if not raw:
            return


def scan_stream(
    stream: BinaryIO,
    *,
    entities: Collection[str] | None = None,
    min_score: float = 0.5,
    warn: Callable[[str], None] = lambda _m: None,
) -> Iterator[tuple[str, list[Entity]]]:
    """Yield ``(text piece, entities in it)``; offsets are relative to each piece.

    The pieces, joined, are the whole decoded input, so a caller can redact as it goes.
    An entity is never split between pieces.
    """
    carry = ""
    for chunk in _decoded_chunks(stream, warn):
        buffer = carry + chunk
        found = detect(buffer, entities=entities, min_score=min_score)
        cut = max(len(buffer) - OVERLAP, 0)
        for e in found:  # never cut through an entity
            if e.start < cut < e.end:
                cut = e.start
        yield buffer[:cut], [e for e in found if e.end <= cut]
        carry = buffer[cut:]
    if carry:
        yield carry, detect(carry, entities=entities, min_score=min_score)


def shift(entities: list[Entity], offset: int) -> list[Entity]:
    return [Entity(e.type, e.start + offset, e.end + offset, e.text, e.score) for e in entities]


@dataclass(frozen=True)
class Record:
    """One JSONL input line: its number, id and text, or the error that made it unusable."""

    line: int
    id: Any = None
    text: str = ""
    error: str | None = None


def _read_line(stream: BinaryIO) -> tuple[bytes, bool]:
    """One line of at most MAX_LINE bytes; a longer line is consumed and reported."""
    line = stream.readline(MAX_LINE + 1)
    if len(line) <= MAX_LINE or line.endswith(b"\n"):
        return line, False
    while line and not line.endswith(b"\n"):
        line = stream.readline(CHUNK)
    return b"", True


def read_jsonl(stream: BinaryIO) -> Iterator[Record]:
    """Records from ``{"id": ..., "text": ...}`` lines; bad lines carry an error, never raise."""
    no = 0
    while True:
        line, too_long = _read_line(stream)
        no += 1
        if too_long:
            yield Record(no, error=f"longer than {MAX_LINE >> 20} MB")
            continue
        if not line:
            return
        if not line.strip():
            continue
        yield _parse_record(no, line)


def _parse_record(no: int, line: bytes) -> Record:
    try:
        row = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return Record(no, error="not valid UTF-8")
    except json.JSONDecodeError as exc:
        return Record(no, error=f"not valid JSON ({exc.msg})")
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        return Record(no, error='expected an object with a string "text"')
    return Record(no, row.get("id"), row["text"])


def is_binary(path: Path) -> bool:
    with path.open("rb") as fh:
        return b"\x00" in fh.read(8192)


def iter_files(paths: list[Path]) -> Iterator[Path]:
    """Files named, and files under folders named, in a stable order; hidden ones skipped."""
    for path in paths:
        if path.is_dir():
            for sub in sorted(path.rglob("*")):
                parts = sub.relative_to(path).parts
                if sub.is_file() and not any(p.startswith(".") for p in parts):
                    yield sub
        else:
            yield path


def scan_files(
    paths: list[Path],
    *,
    entities: Collection[str] | None = None,
    min_score: float = 0.5,
    progress: Callable[[Path], None] = lambda _p: None,
) -> ScanReport:
    """Scan files and folders; binary and unreadable files are skipped with a warning."""
    report = ScanReport()
    for path in iter_files(paths):
        progress(path)
        name = str(path)

        def warn(message: str, name: str = name) -> None:
            report.warnings.append(f"{name}: {message}")

        try:
            with path.open("rb") as fh:
                for _piece, found in scan_stream(
                    fh, entities=entities, min_score=min_score, warn=warn
                ):
                    report.add(name, found)
        except PIIInputError as exc:
            warn(exc.message)
        except OSError as exc:
            warn(f"cannot read ({exc.strerror})")
    return report


__all__ = [
    "Record",
    "ScanReport",
    "is_binary",
    "iter_files",
    "mask",
    "read_jsonl",
    "redact",
    "scan_files",
    "scan_stream",
    "shift",
]
