"""YAML -> :class:`Manifest`, with every problem reported as ``file:line:col: message``.

The file is read with ruamel.yaml in round-trip mode, which keeps the line and
column of every key and item. The tree is copied into plain Python values (so
pydantic sees ordinary dicts, lists and scalars) while a :class:`SourceMap`
records where each key path came from. Schema errors (pydantic) and reference
problems (:meth:`Manifest.reference_problems`) are mapped back through it, so
every problem points at the line and column it is about. All problems are
collected; nothing raises past :func:`read_manifest`.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from integritet.errors import ManifestError
from integritet.manifest.model import Loc, Manifest
from integritet.manifest.schema_errors import describe_validation_error

MAX_MANIFEST_BYTES = 256 * 1024
"""Larger files are refused before parsing: a real manifest is a few kilobytes."""
MAX_NODES = 50_000
"""Keys, items and scalars after alias expansion (guards against alias bombs)."""
MAX_DEPTH = 64

Pos = tuple[int, int]
"""A 0-based (line, column) as ruamel reports it."""


def format_loc(loc: Loc) -> str:
    """``("purposes", 0, "categories", 1)`` -> ``purposes[0].categories[1]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Problem:
    """One problem with the manifest; ``line`` and ``col`` are 1-based, or None if unknown."""

    file: str
    message: str
    line: int | None = None
    col: int | None = None
    loc: Loc = ()

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.col}"
        at = f" (at {format_loc(self.loc)})" if self.loc else ""
        return f"{where}: {self.message}{at}"


@dataclass
class SourceMap:
    """Where each key path of the document was written: (key position, value position)."""

    positions: dict[Loc, tuple[Pos, Pos]] = field(default_factory=dict)

    def _nearest(self, loc: Loc) -> tuple[Loc, tuple[Pos, Pos]] | None:
        for cut in range(len(loc), -1, -1):
            found = self.positions.get(loc[:cut])
            if found is not None:
                return loc[:cut], found
        return None

    def key(self, loc: Loc) -> tuple[int, int]:
        """1-based line and column of the key at ``loc`` (or its nearest ancestor)."""
        found = self._nearest(loc)
        if found is None:
            return 1, 1
        (line, col), _ = found[1]
        return line + 1, col + 1

    def value(self, loc: Loc) -> tuple[int, int]:
        """1-based line and column of the value at ``loc`` (or of its nearest ancestor's key)."""
        found = self._nearest(loc)
        if found is None:
            return 1, 1
        prefix, (key_pos, value_pos) = found
        line, col = value_pos if prefix == loc else key_pos
        return line + 1, col + 1


@dataclass
class LoadResult:
    """What :func:`read_manifest` found: the manifest (None on problems) and every problem."""

    file: str
    manifest: Manifest | None
    problems: list[Problem]
    source: SourceMap

    def problem(self, loc: Loc, message: str, *, at_key: bool = False) -> Problem:
        line, col = self.source.key(loc) if at_key else self.source.value(loc)
        return Problem(self.file, message, line, col, loc)


class _TooLarge(Exception):
    pass


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that leaves dates as text for pydantic to parse.

    ruamel raises a bare ValueError (no position) for an impossible date such as
    2025-13-01; as text, pydantic reports it with the key path we can locate.
    """


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    return yaml


# --------------------------------------------------------------------------- reading


def read_manifest(path: Path) -> LoadResult:
    """Read and validate ``path``; every problem is in the result, nothing is raised."""
    name = str(path)
    text, problem = _read_text(path)
    if text is None:
        assert problem is not None
        return LoadResult(name, None, [problem], SourceMap())
    return _parsed(text, name)


# Parsing is a pure function of (text, name) and the round-trip parser is slow (~0.2 s for an
# example manifest); a process that reads the same unchanged file again (the API, in-process
# CLI runs, tests) gets a deep copy of the earlier result instead of parsing it again.
_PARSED: OrderedDict[tuple[str, bytes], LoadResult] = OrderedDict()
_PARSED_MAX = 16
_PARSED_LOCK = threading.Lock()


def _parsed(text: str, name: str) -> LoadResult:
    key = (name, hashlib.sha256(text.encode("utf-8")).digest())
    with _PARSED_LOCK:
        hit = _PARSED.get(key)
        if hit is not None:
            _PARSED.move_to_end(key)
    if hit is None:
        hit = parse_text(text, name)
        with _PARSED_LOCK:
            _PARSED[key] = hit
            while len(_PARSED) > _PARSED_MAX:
                _PARSED.popitem(last=False)
    return copy.deepcopy(hit)


def _read_text(path: Path) -> tuple[str | None, Problem | None]:
    name = str(path)
    try:
        if path.is_dir():
            return None, Problem(name, "is a directory; give the path of a policy.yaml file")
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            return None, Problem(
                name,
                f"file too large ({size:,} bytes); a manifest may be at most "
                f"{MAX_MANIFEST_BYTES:,} bytes",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        return None, Problem(name, "no such file (create one with `integritet init`)")
    except OSError as exc:
        return None, Problem(name, f"cannot read the file: {exc.strerror or type(exc).__name__}")
    return _decode(data, name)


def _decode(data: bytes, name: str) -> tuple[str | None, Problem | None]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None, Problem(name, "the file is UTF-16 text; save the manifest as UTF-8", 1, 1)
    if b"\x00" in data[:8192]:
        offset = data.index(b"\x00")
        line, col = _byte_position(data, offset)
        return None, Problem(name, "binary file (NUL byte), not a YAML text file", line, col)
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line, col = _byte_position(data, exc.start)
        bad = data[exc.start]
        return None, Problem(
            name, f"not valid UTF-8 (byte 0x{bad:02X}); save the manifest as UTF-8", line, col
        )


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    col = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, col


# --------------------------------------------------------------------------- parsing


def parse_text(text: str, name: str = "policy.yaml") -> LoadResult:
    """Parse and validate manifest ``text``; ``name`` is used in problem lines."""
    source = SourceMap()
    result = LoadResult(name, None, [], source)
    try:
        document = _yaml().load(text)
    except DuplicateKeyError as exc:
        result.problems.append(_duplicate_key_problem(exc, text, name))
        return result
    except MarkedYAMLError as exc:
        result.problems.append(_yaml_problem(exc, text, name))
        return result
    except YAMLError as exc:  # unmarked: rare
        result.problems.append(Problem(name, f"invalid YAML: {exc}"))
        return result
    except RecursionError:
        result.problems.append(Problem(name, f"the YAML nests deeper than {MAX_DEPTH} levels"))
        return result
    if document is None:
        message = "the file is empty; start from the template `integritet init` writes"
        result.problems.append(Problem(name, message, 1, 1))
        return result
    if not isinstance(document, dict):
        found = "a list" if isinstance(document, list) else "a single value"
        message = f"the manifest must be a mapping of keys (controller:, policy:, ...), not {found}"
        result.problems.append(Problem(name, message, 1, 1))
        return result
    try:
        data = _plain(document, (), source, [0])
    except _TooLarge as exc:
        result.problems.append(Problem(name, str(exc), 1, 1))
        return result
    _validate(data, result)
    return result


def _validate(data: dict[str, Any], result: LoadResult) -> None:
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        for loc, message, at_key in describe_validation_error(exc, data):
            result.problems.append(result.problem(loc, message, at_key=at_key))
        result.problems.sort(key=lambda p: (p.line or 0, p.col or 0))
        return
    for loc, message in manifest.reference_problems():
        result.problems.append(result.problem(loc, message))
    result.problems.sort(key=lambda p: (p.line or 0, p.col or 0))
    if not result.problems:
        result.manifest = manifest


def _yaml_problem(exc: MarkedYAMLError, text: str, name: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return Problem(name, f"invalid YAML: {exc.problem or exc}")
    line_text = text.splitlines()[mark.line] if mark.line < len(text.splitlines()) else ""
    indent = line_text[: len(line_text) - len(line_text.lstrip(" \t"))]
    if "\t" in indent or "'\\t'" in str(exc.problem):
        col = indent.index("\t") if "\t" in indent else mark.column
        message = "tab character in the indentation; YAML indents with spaces only"
        return Problem(name, message, mark.line + 1, col + 1)
    detail = str(exc.problem or "syntax error")
    hint = next((h for fragment, h in _YAML_HINTS if fragment in detail), None)
    message = f"invalid YAML: {hint} ({detail})" if hint else f"invalid YAML: {detail}"
    return Problem(name, message, mark.line + 1, mark.column + 1)


_YAML_HINTS = (
    (
        "mapping values are not allowed",
        "unexpected ':' here; check the indentation, or quote a text that contains ': '",
    ),
    ("expected <block end>", "this line is indented differently from the keys above it"),
    ("could not find expected ':'", "a key without ':' (or a text that needs quotes)"),
    ("end of stream", "the file ends inside a quoted text (a missing closing quote?)"),
    ("<stream end>", "the file ends inside [ ] or { } (a missing closing bracket?)"),
    ("expected ',' or ']'", "a [ list ] is not closed before this point"),
    ("expected ',' or '}'", "a { mapping } is not closed before this point"),
)


def _duplicate_key_problem(exc: DuplicateKeyError, text: str, name: str) -> Problem:
    mark = exc.problem_mark
    found = re.search(r'duplicate key "(.*?)"', str(exc.problem))
    key = found.group(1) if found else "?"
    first = ""
    if mark is not None and exc.context_mark is not None:
        lines = text.splitlines()
        for number in range(exc.context_mark.line, mark.line):
            candidate = lines[number]
            if candidate[mark.column :].startswith(f"{key}:") and not candidate[
                : mark.column
            ].strip(" -"):
                first = f" (first written on line {number + 1})"
                break
    message = f"duplicate key {key!r}{first}; each key may appear once in a mapping"
    if mark is None:
        return Problem(name, message)
    return Problem(name, message, mark.line + 1, mark.column + 1)


def _plain(node: Any, loc: Loc, source: SourceMap, budget: list[int]) -> Any:
    """Copy the ruamel tree into plain values, recording positions; bounded in size and depth."""
    budget[0] += 1
    if budget[0] > MAX_NODES:
        raise _TooLarge(f"the manifest expands to more than {MAX_NODES:,} values (YAML aliases?)")
    if len(loc) > MAX_DEPTH:
        raise _TooLarge(f"the manifest nests deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            name = key if isinstance(key, str) else str(key)
            key_pos, value_pos = _map_positions(node, key, loc, source)
            # an empty value has no position of its own: point at its key
            source.positions[(*loc, name)] = (key_pos, key_pos if value is None else value_pos)
            out[name] = _plain(value, (*loc, name), source, budget)
        return out
    if isinstance(node, list):
        items: list[Any] = []
        for index, value in enumerate(node):
            source.positions[(*loc, index)] = _item_positions(node, index, loc, source)
            items.append(_plain(value, (*loc, index), source, budget))
        return items
    return _scalar(node)


def _map_positions(node: Any, key: Any, loc: Loc, source: SourceMap) -> tuple[Pos, Pos]:
    try:
        key_pos: Pos = tuple(node.lc.key(key))
        value_pos: Pos = tuple(node.lc.value(key))
    except (AttributeError, KeyError, TypeError):  # merged (<<) keys have no position
        parent = source.positions.get(loc, ((0, 0), (0, 0)))
        return parent[0], parent[0]
    return key_pos, value_pos


def _item_positions(node: Any, index: int, loc: Loc, source: SourceMap) -> tuple[Pos, Pos]:
    try:
        pos: Pos = tuple(node.lc.item(index))
    except (AttributeError, KeyError, TypeError):
        parent = source.positions.get(loc, ((0, 0), (0, 0)))
        return parent[0], parent[0]
    return pos, pos


def _scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime):
        return datetime.fromisoformat(value.isoformat())
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return value


# --------------------------------------------------------------------------- raising API


def load_manifest(path: Path) -> Manifest:
    """Load and validate ``path``; raise :class:`ManifestError` listing every problem."""
    result = read_manifest(path)
    if result.manifest is None:
        raise ManifestError([str(p) for p in result.problems])
    return result.manifest


def parse_manifest(text: str, name: str = "policy.yaml") -> Manifest:
    """Like :func:`load_manifest` for text already in memory."""
    result = parse_text(text, name)
    if result.manifest is None:
        raise ManifestError([str(p) for p in result.problems])
    return result.manifest
