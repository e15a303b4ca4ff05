"""The chain walker against every single-row mutation of a random log (hypothesis)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from integritet.audit import GENESIS, AuditEvent, ChainWalker, canonical_encoding
from integritet.audit.chain import AT_FORMAT, canonical_detail, chain, format_at, parse_at

Row = tuple[Any, ...]

_text = st.text(alphabet="abcxyzÅäö:._-@ 19", min_size=1, max_size=8)
_any_text = st.text(alphabet='abå\x1f\x00:{}"', max_size=70)
_detail = st.dictionaries(
    st.text(alphabet="kvä", max_size=3),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        _text,
    ),
    max_size=3,
)
_events = st.builds(
    AuditEvent,
    actor=_text,
    action=_text,
    outcome=st.sampled_from(["allowed", "denied", "done", "failed"]),
    purpose=st.none() | _text,
    subject=st.none() | _text,
    customer=st.none() | _text,
    detail=_detail,
)


@st.composite
def logs(draw: st.DrawFn) -> list[Row]:
    events = draw(st.lists(_events, min_size=1, max_size=12))
    stamps = [f"2026-01-{1 + i % 28:02d}T09:00:00.{i:06d}Z" for i in range(len(events))]
    return chain(events, stamps)


def _walk(rows: list[Row], signed: dict[int, str] | None = None) -> tuple[int | None, str | None]:
    walker = ChainWalker(signed or {})
    walker.feed(rows)
    result = walker.result(len(signed or {}))
    return result.bad_position, result.reason


def _head_checkpoint(rows: list[Row]) -> dict[int, str]:
    return {rows[-1][0]: rows[-1][10]}


def _hashed(fields: Row) -> Row:
    return (*fields, hashlib.sha256(canonical_encoding(*fields)).hexdigest())


def _edit(rows: list[Row], data: st.DataObject) -> tuple[list[Row], int]:
    k = data.draw(st.integers(0, len(rows) - 1), label="row")
    column = data.draw(st.integers(0, 10), label="column")
    old = rows[k][column]
    if column == 0:
        new: Any = data.draw(st.integers(-5, 10_000).filter(lambda p: p != old))
    elif column in (5, 6, 7):
        new = data.draw((st.none() | _any_text).filter(lambda v: v != old))
    else:
        new = data.draw(_any_text.filter(lambda v: v != old))
    row = list(rows[k])
    row[column] = new
    return [*rows[:k], tuple(row), *rows[k + 1 :]], k + 1


def _delete(rows: list[Row], data: st.DataObject) -> tuple[list[Row], int]:
    k = data.draw(st.integers(0, len(rows) - 1), label="row")
    return rows[:k] + rows[k + 1 :], k + 1


def _truncate(rows: list[Row], data: st.DataObject) -> tuple[list[Row], int]:
    k = data.draw(st.integers(0, len(rows) - 1), label="keep")
    return rows[:k], k + 1


def _swap(rows: list[Row], data: st.DataObject) -> tuple[list[Row], int]:
    i = data.draw(st.integers(0, len(rows) - 1), label="first")
    j = data.draw(st.integers(0, len(rows) - 1).filter(lambda j: j != i), label="second")
    i, j = min(i, j), max(i, j)
    mutated = list(rows)
    mutated[i], mutated[j] = _renumber(rows[j], i + 1), _renumber(rows[i], j + 1)
    return mutated, i + 1


MUTATIONS = {"edit": _edit, "delete": _delete, "truncate": _truncate, "swap": _swap}


@settings(max_examples=200)
@given(logs(), st.data())
def test_every_single_row_mutation_is_detected_at_its_position(
    rows: list[Row], data: st.DataObject
) -> None:
    """Edit of any field, deletion, truncation or swap: the first bad position is exact."""
    assert _walk(rows, _head_checkpoint(rows)) == (None, None)
    kinds = sorted(MUTATIONS) if len(rows) > 1 else ["delete", "edit", "truncate"]
    kind = data.draw(st.sampled_from(kinds), label="mutation")
    mutated, expected = MUTATIONS[kind](rows, data)
    bad, reason = _walk(mutated, _head_checkpoint(rows))
    assert bad == expected, (kind, reason)
    assert reason


@settings(max_examples=50)
@given(logs(), st.data(), _events)
def test_inserting_a_row_is_detected(
    rows: list[Row], data: st.DataObject, event: AuditEvent
) -> None:
    """A well-hashed row spliced in at ``k`` (later rows renumbered) breaks the next link."""
    k = data.draw(st.integers(0, len(rows) - 1))
    prev = rows[k - 1][10] if k else GENESIS
    forged = chain([event], ["2026-02-01T00:00:00.000000Z"])[0]
    inserted = _hashed((k + 1, *forged[1:9], prev))
    shifted = [_renumber(r, r[0] + 1) for r in rows[k:]]
    bad, reason = _walk([*rows[:k], inserted, *shifted])
    assert bad == k + 2
    assert reason is not None and "link" in reason


@settings(max_examples=50)
@given(logs(), st.data())
def test_a_rewritten_tail_is_caught_by_a_signed_checkpoint(
    rows: list[Row], data: st.DataObject
) -> None:
    """An attacker who re-hashes everything after an edit fools the links, not the checkpoint."""
    k = data.draw(st.integers(0, len(rows) - 1))
    rewritten = list(rows[:k])
    prev = rows[k - 1][10] if k else GENESIS
    for n, row in enumerate(rows[k:]):
        actor = row[2] + "x" if n == 0 else row[2]
        new = _hashed((row[0], row[1], actor, *row[3:9], prev))
        rewritten.append(new)
        prev = new[10]
    assert _walk(rewritten) == (None, None)
    bad, reason = _walk(rewritten, _head_checkpoint(rows))
    assert bad == len(rows)
    assert reason == "chain does not match the signed checkpoint"


def _renumber(row: Row, position: int) -> Row:
    return (position, *row[1:])


def test_feeding_in_batches_equals_feeding_at_once() -> None:
    events = [AuditEvent("system:t", "a.b", "done", detail={"i": i}) for i in range(10)]
    rows = chain(events, [format_at(parse_at("2026-01-01T00:00:00.000000Z"))] * 10)
    walker = ChainWalker({})
    assert walker.feed(rows[:3]) and walker.feed(rows[3:7]) and walker.feed(rows[7:])
    assert walker.result(0).last_hash == rows[-1][10]
    assert walker.result(0).rows == 10


def test_wrong_types_are_reported_not_raised() -> None:
    rows = chain([AuditEvent("system:t", "a.b", "done")], ["2026-01-01T00:00:00.000000Z"])
    bad_row = (1, b"bytes", *rows[0][2:])
    assert _walk([bad_row]) == (1, "malformed row (wrong field types)")


def test_a_separator_smuggled_between_fields_is_caught() -> None:
    """Moving a boundary (actor 'a', action 'b\\x1fc' vs 'a\\x1fb', 'c') keeps the bytes equal."""
    rows = chain([AuditEvent("a", "b", "done")], ["2026-01-01T00:00:00.000000Z"])
    (row,) = rows
    moved = (row[0], row[1], "a\x1fb", row[4], *row[5:])  # drop one field, shift the rest
    assert len(moved) == 10  # such a row cannot even be unpacked: wrong field count
    shifted = (row[0], row[1] + "\x1f" + row[2], row[3], row[4], *row[5:])
    assert _walk([(*shifted[:3], "x", *shifted[4:])])[0] == 1


@settings(max_examples=300)
@given(
    st.datetimes(min_value=datetime(1, 1, 1), timezones=st.sampled_from([UTC, None])),
    _detail,
)
def test_fast_formatting_matches_the_reference_encoding(at: datetime, detail: Any) -> None:
    """format_at and canonical_detail take shortcuts; old chains must still verify."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    assert format_at(at) == aware.strftime(AT_FORMAT)
    reference = json.dumps(
        dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    assert canonical_detail(detail) == reference
