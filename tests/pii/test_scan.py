from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from integritet.errors import PIIInputError
from integritet.pii import detect
from integritet.pii import scan as scan_mod
from integritet.pii.scan import mask, read_jsonl, scan_files, scan_stream, shift


def _stream(text: str | bytes) -> io.BytesIO:
    return io.BytesIO(text.encode() if isinstance(text, str) else text)


def test_entity_across_a_chunk_boundary_is_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_mod, "CHUNK", 64)
    monkeypatch.setattr(scan_mod, "OVERLAP", 24)
    text = ("x " * 27) + "mejla anna.berg@exempel.se nu " + ("y " * 40) + "ring 070-123 45 67"
    pieces = list(scan_stream(_stream(text)))
    assert "".join(p for p, _ in pieces) == text
    found, offset = [], 0
    for piece, ents in pieces:
        found += shift(ents, offset)
        offset += len(piece)
    assert [(e.type, text[e.start : e.end]) for e in found] == [
        ("EMAIL_ADDRESS", "anna.berg@exempel.se"),
        ("PHONE_NUMBER", "070-123 45 67"),
    ]


def test_binary_input_is_refused() -> None:
    with pytest.raises(PIIInputError, match="binary"):
        list(scan_stream(_stream(b"\x00\x01\x02abc")))


def test_invalid_utf8_is_replaced_with_a_warning() -> None:
    warnings: list[str] = []
    pieces = list(scan_stream(_stream(b"caf\xe9 anna@exempel.se"), warn=warnings.append))
    assert warnings == ["input is not valid UTF-8; invalid bytes were replaced"]
    assert pieces[-1][1][0].text == "anna@exempel.se"


@pytest.mark.slow
def test_100_mb_single_line_streams_in_bounded_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    block = ("lorem ipsum dolor sit amet " * 40).encode()  # no capitals, digits or @
    with big.open("wb") as fh:
        fh.write(b"ring 070-123 45 67 ")
        for _ in range(100 * 1024 * 1024 // len(block)):
            fh.write(block)
        fh.write(b"slut anna@exempel.se")
    tracemalloc.start()
    count = 0
    with big.open("rb") as fh:
        for _piece, found in scan_stream(fh):
            count += len(found)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 2
    assert peak < 32 * 1024 * 1024


def test_read_jsonl_reports_bad_lines_and_continues(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_mod, "MAX_LINE", 100)
    data = (
        b'{"id": 1, "text": "a"}\n{bad\n[1]\n\n' + b'{"id": 9, "text": "' + b"x" * 300 + b'"}\n'
        b'{"id": 2, "text": "b\xff"}\n{"id": 3, "text": "c"}\n'
    )
    recs = list(read_jsonl(_stream(data)))
    assert [(r.line, r.id, r.error is None) for r in recs] == [
        (1, 1, True), (2, None, False), (3, None, False), (5, None, False), (6, None, False),
        (7, 3, True),
    ]  # fmt: skip
    assert "longer than" in (recs[3].error or "")


def test_mask_hides_the_value() -> None:
    [email] = detect("anna.berg@exempel.se")
    assert mask(email) == "a***@e***.se"
    [pnr] = detect("pnr 811218-9876")
    assert mask(pnr) == "81****-****"
    [person] = detect("Hej Anna Berg")
    assert mask(person) == "A*** B***"


def test_scan_files_summarises_and_skips_binary(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Ring Anna Berg på 070-123 45 67", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.log").write_text("klient 10.0.0.7 och 10.0.0.8", encoding="utf-8")
    (tmp_path / "c.bin").write_bytes(b"\x00\x00anna@exempel.se")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    report = scan_files([tmp_path])
    data = report.to_dict()
    assert data["sources"][str(tmp_path / "a.txt")]["counts"] == {"PERSON": 1, "PHONE_NUMBER": 1}
    assert data["sources"][str(tmp_path / "sub" / "b.log")]["counts"] == {"IP_ADDRESS": 2}
    assert any("c.bin" in w and "binary" in w for w in report.warnings)
    assert "Anna" not in json.dumps(data) and "070-123" not in json.dumps(data)
