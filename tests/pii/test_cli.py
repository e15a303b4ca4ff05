"""``integritet scan`` as a person runs it: text, JSONL, files, folders, databases, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert
from typer.testing import CliRunner

from integritet.cli import app, main
from integritet.db import make_engine

runner = CliRunner()
TEXT = "Hej Anna Lindqvist, ring 070-123 45 67 eller mejla anna@exempel.se."


def test_text_from_stdin_lists_findings() -> None:
    result = runner.invoke(app, ["scan"], input=TEXT)
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[1] for line in lines] == ["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"]


def test_redact_from_stdin() -> None:
    result = runner.invoke(app, ["scan", "-", "--redact"], input=TEXT)
    assert result.exit_code == 0
    assert result.stdout == "Hej [PERSON], ring [PHONE_NUMBER] eller mejla [EMAIL_ADDRESS]."


def test_json_format_offsets_are_characters(tmp_path: Path) -> None:
    src = tmp_path / "t.txt"
    src.write_text("Åsa Öberg: åsa@exempel.se", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(src), "--format", "json"])
    data = json.loads(result.stdout)
    text = src.read_text(encoding="utf-8")
    assert [(e["type"], text[e["start"] : e["end"]]) for e in data["entities"]] == [
        ("PERSON", "Åsa Öberg"), ("EMAIL_ADDRESS", "åsa@exempel.se"),
    ]  # fmt: skip


def test_jsonl_in_jsonl_out_in_input_order_with_line_errors() -> None:
    lines = [
        json.dumps({"id": "a", "text": "Mvh Erik"}),
        "{not json",
        json.dumps({"id": 7, "text": "inget"}),
        json.dumps({"id": "c", "text": "pnr 811218-9876"}),
    ]
    result = runner.invoke(
        app, ["scan", "--jsonl", "--format", "jsonl"], input="\n".join(lines) + "\n"
    )
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in out] == ["a", 7, "c"]
    assert out[0]["entities"] == [
        {"type": "PERSON", "start": 4, "end": 8, "text": "Erik", "score": 0.75}
    ]
    assert out[2]["entities"][0]["type"] == "SE_PERSONNUMMER"
    assert "line 2: not valid JSON" in result.stderr


def test_jsonl_redact() -> None:
    line = json.dumps({"id": 1, "text": "ring 070-123 45 67"})
    result = runner.invoke(app, ["scan", "--jsonl", "--redact"], input=line)
    assert json.loads(result.stdout) == {"id": 1, "text": "ring [PHONE_NUMBER]"}


def test_empty_input_warns_and_succeeds() -> None:
    result = runner.invoke(app, ["scan"], input="")
    assert result.exit_code == 0 and result.stdout == ""
    assert "empty input" in result.stderr


def test_folder_summary_is_masked(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.bin").write_bytes(b"\x00\x00\x00")
    result = runner.invoke(app, ["scan", str(tmp_path)])
    assert result.exit_code == 0
    assert "EMAIL_ADDRESS" in result.stdout and "a***@e***.se" in result.stdout
    assert "anna@exempel.se" not in result.stdout
    assert "binary" in result.stderr
    data = json.loads(runner.invoke(app, ["scan", str(tmp_path), "--format", "json"]).stdout)
    assert data["total"] == 3


def test_database_scan_and_remove(database_url: str) -> None:
    engine = make_engine(database_url)
    meta = MetaData()
    tbl = Table("tickets", meta, Column("id", Integer, primary_key=True), Column("body", Text))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(tbl), [{"id": 1, "body": TEXT}, {"id": 2, "body": "ok"}])
    engine.dispose()
    result = runner.invoke(app, ["scan", "--database", database_url, "--table", "tickets"])
    assert result.exit_code == 0, result.output
    assert "tickets.body" in result.stdout and "PHONE_NUMBER" in result.stdout
    args = ["scan", "--database", database_url, "--table", "tickets", "--column", "body"]
    removed = runner.invoke(app, [*args, "--remove", "--format", "json"])
    assert json.loads(removed.stdout)["rows"] == 1
    again = runner.invoke(app, ["scan", "--database", database_url, "--table", "tickets"])
    assert "no personal data found" in again.stdout


def _main(
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    args: list[str],
    stdin: bytes,
) -> tuple[int, str, str]:
    """Run ``integritet.cli.main`` in-process, as the console script does."""
    monkeypatch.setattr(sys, "argv", ["integritet", *args])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    with pytest.raises(SystemExit) as exit_info:
        main()
        sys.exit(0)
    out, err = capfd.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["scan"], b"\x00\x01binary\x00", "error: input looks binary"),
        (["scan", "/nonexistent/file.txt"], b"", "error: /nonexistent/file.txt: no such file"),
        (["scan", "--database", "sqlite://", "--table", "nope"], b"", "does not exist"),
        (["scan", "--database", "sqlite://"], b"", "error: --database needs --table"),
        (["scan", "--entities", "FOO"], b"x", "error: unknown entity type FOO"),
    ],
)
def test_bad_input_is_one_line_never_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    args: list[str],
    stdin: bytes,
    message: str,
) -> None:
    code, _out, err = _main(monkeypatch, capfd, args, stdin)
    assert code == 1
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_invalid_utf8_is_replaced_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _main(monkeypatch, capfd, ["scan"], b"caf\xe9 anna@exempel.se")
    assert code == 0
    assert "not valid UTF-8" in err
    assert "EMAIL_ADDRESS" in out


def test_console_script_never_prints_a_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from integritet.cli import main; main()", "scan"],
        input=b"\x00binary", capture_output=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith(b"error: input looks binary")


def test_bench_quick_runs_for_integritet_alone() -> None:
    bench = Path(__file__).resolve().parents[2] / "bench" / "pii.py"
    proc = subprocess.run(
        [sys.executable, str(bench), "--quick"], capture_output=True, timeout=120, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "documents/CPU-s" in proc.stdout and "MICRO" in proc.stdout
