from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from integritet.access import Actor
from integritet.cli import app, main
from integritet.manifest import load_manifest
from integritet.settings import Settings
from integritet.vault import open_vault

POLICY = str(Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml")


@pytest.fixture
def cli_home(home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, mailbox: Any) -> str:
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", database_url)
    monkeypatch.setenv("INTEGRITET_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("INTEGRITET_SMTP_PORT", str(mailbox.port))
    vault = open_vault(Settings(), load_manifest(Path(POLICY)), notify=lambda _m: None)
    system = Actor.system("test")
    subject = vault.create_subject(system, "account", {"email": "kim@example.se"})
    vault.put_record(
        system, "account", subject, "contact", {"name": "Kim", "email": "kim@example.se"}, "person"
    )
    vault.engine.dispose()
    return subject


def run(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--policy", POLICY])
    assert result.exit_code == 0, result.output
    return result.stdout


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["integritet", *args, "--policy", POLICY])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0)


def test_access_request_through_the_cli(
    cli_home: str,
    mailbox: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    created = json.loads(
        run("request", "new", "access", "--email", "kim@example.se", "--format", "json")
    )
    rid = created["id"]
    assert created["status"] == "received"
    assert run_main(["request", "process", rid], monkeypatch) == 1
    assert "not verified" in capsys.readouterr().err
    run("request", "verify", rid, "--staff-note", "called back", "--staff", "eva")
    assert f"{rid}: completed" in run("request", "process", rid)
    assert mailbox.messages[-1]["To"] == "kim@example.se"
    assert rid in str(mailbox.messages[-1]["Subject"])
    shown = json.loads(run("request", "show", rid, "--format", "json"))
    assert shown["status"] == "completed"
    assert shown["steps"][0]["result"]["counts"] == {"contact": 1}
    assert "kim@example.se" not in json.dumps(shown)
    target = tmp_path / "kim.zip"
    run("request", "export", rid, "--format", "zip", "--out", str(target))
    with zipfile.ZipFile(target) as archive:
        assert "kim@example.se" in archive.read("vault/contact.csv").decode()
    html = tmp_path / "kim.html"
    run("request", "export", rid, "--format", "html", "--lang", "en", "--out", str(html))
    assert "Your personal data" in html.read_text()
    assert run_main(["request", "export", rid, "--out", str(html)], monkeypatch) == 1


def test_extend_reject_and_list(cli_home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = run("request", "new", "erasure", "--subject", cli_home).strip()
    assert "deadline extended" in run("request", "extend", rid, "--reason", "many systems")
    assert run_main(["request", "extend", rid, "--reason", "again"], monkeypatch) == 1
    run("request", "reject", rid, "--reason", "active contract")
    listed = json.loads(run("request", "list", "--format", "json"))
    assert [(r["id"], r["status"], r["extended"]) for r in listed] == [(rid, "rejected", True)]
    assert json.loads(run("request", "list", "--overdue", "--format", "json")) == []
    assert run_main(["request", "show", "nope"], monkeypatch) == 1


def test_codes_through_the_cli(
    cli_home: str, mailbox: Any, code_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = run("request", "new", "erasure", "--email", "kim@example.se").strip()
    assert "verify code sent" in run("request", "send-code", rid)
    assert run_main(["request", "confirm", rid, "--code", "000000x"], monkeypatch) == 5
    assert f"{rid}: verified" in run(
        "request", "confirm", rid, "--code", code_in(mailbox.messages[-1])
    )
    assert "confirm code sent" in run("request", "send-code", rid)
    assert f"{rid}: confirmed" in run(
        "request", "confirm", rid, "--code", code_in(mailbox.messages[-1])
    )


def test_process_all_in_batches(cli_home: str, mailbox: Any) -> None:
    rids = [
        json.loads(
            run("request", "new", "access", "--email", "kim@example.se", "--format", "json")
        )["id"]
        for _ in range(3)
    ]
    for rid in rids:
        run("request", "verify", rid, "--staff-note", "called back", "--staff", "eva")
    output = run("request", "process", "--batch", "2", "--workers", "2")
    assert all(f"{rid}: completed" in output for rid in rids)
    assert "processed 3 request(s)" in output
