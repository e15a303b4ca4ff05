from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from integritet.audit import SIGNING_KEY_NAME, AuditEvent, AuditLog
from integritet.db import make_engine, upgrade


@pytest.fixture
def log(database_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditLog]:
    """Three customers' events in the database the CLI will use."""
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    audit = AuditLog(engine, home / SIGNING_KEY_NAME, notify=lambda _m: None)
    for i, customer in enumerate(["c1", "c2", "c1", None, "c1"], start=1):
        audit.append_now(
            AuditEvent("staff:anna", "vault.read", "allowed", "support", f"s{i}", customer)
        )
    yield audit
    engine.dispose()


def test_verify_fresh_home_creates_schema_and_passes(home: Path, run_cli: Any) -> None:
    result = run_cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "audit chain ok: 0 rows" in result.stdout
    assert "created the database schema" in result.stderr
    assert (home / "integritet.db").exists()


def test_checkpoint_then_verify_then_truncation_fails(
    log: AuditLog, tmp_path: Path, run_cli: Any
) -> None:
    cp_file = tmp_path / "cp.json"
    result = run_cli("audit", "checkpoint", "-o", str(cp_file))
    assert result.exit_code == 0, result.output
    assert "signed checkpoint at position 5" in result.stdout
    assert "created audit signing key" in result.stderr
    assert json.loads(cp_file.read_text())["position"] == 5

    ok = run_cli("audit", "verify", "--checkpoint", str(cp_file))
    assert ok.exit_code == 0 and "5 rows" in ok.stdout and "1 signed checkpoint(s)" in ok.stdout

    with log.engine.begin() as conn:
        if log.engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM audit_checkpoints"))
        conn.execute(text("DELETE FROM audit_events WHERE position >= 3"))
    broken = run_cli("audit", "verify", "--checkpoint", str(cp_file))
    assert broken.exit_code == 1
    assert broken.stderr.startswith("audit chain broken at position 3: log truncated")
    as_json = run_cli("audit", "verify", "-c", str(cp_file), "--format", "json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["bad_position"] == 3


def test_edit_is_reported_with_its_position(log: AuditLog, run_cli: Any) -> None:
    with log.engine.begin() as conn:
        if log.engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE audit_events SET outcome = 'denied' WHERE position = 4"))
    result = run_cli("audit", "verify")
    assert result.exit_code == 1
    assert "audit chain broken at position 4" in result.stderr
    assert "Traceback" not in result.output


def test_export_a_customers_own_events(log: AuditLog, tmp_path: Path, run_cli: Any) -> None:
    result = run_cli("audit", "export", "--customer", "c1", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["position"] for r in rows] == [1, 3, 5]
    assert {r["customer"] for r in rows} == {"c1"}

    out = tmp_path / "c2.csv"
    result = run_cli("audit", "export", "--customer", "c2", "-f", "csv", "-o", str(out))
    assert result.exit_code == 0 and "exported 1 event(s)" in result.stderr
    (row,) = csv.DictReader(io.StringIO(out.read_text()))
    assert row["position"] == "2" and row["customer"] == "c2" and row["subject"] == "s2"

    future = run_cli("audit", "export", "--since", "2999-01-01")
    assert future.exit_code == 0 and future.stdout == ""


def test_unreadable_checkpoint_file_is_one_clear_line(home: Path, run_cli: Any) -> None:
    result = run_cli("audit", "verify", "--checkpoint", str(home / "nope.json"))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == "error: cannot read checkpoint file nope.json"


def test_bad_export_format_is_refused(home: Path, run_cli: Any) -> None:
    result = run_cli("audit", "export", "--format", "xml")
    assert result.exit_code == 2  # a usage error, not an internal error
    assert "xml" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
