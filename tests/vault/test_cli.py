"""The vault commands end to end in a fresh INTEGRITET_HOME."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from integritet.cli import app

POLICY = str(Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml")
runner = CliRunner()


def test_template_lists_every_importable_column(home: Path) -> None:
    result = runner.invoke(app, ["subjects", "import", "--policy", POLICY, "--template"])
    assert result.exit_code == 0
    header = result.stdout.strip().split(",")
    assert header[:5] == ["email", "phone", "personnummer", "customer_number", "external_id"]
    assert {
        "contact.name",
        "sales.amount",
        "access_log.ip",
        "customer",
        "customer_org_number",
        "event.last_login",
        "event.deregistered",
    } <= set(header)


def test_import_show_rotate_replay(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text(
        "email,contact.name,sales.order,customer,customer_org_number,event.last_login\n"
        "ada@example.se,Ada Lund,A1,Acme AB,556000-0001,2024-05-01\n"
        "bad@example.se,Bad,,,,yesterday\n"
    )
    first = runner.invoke(app, ["subjects", "import", "--policy", POLICY, str(data)])
    assert first.exit_code == 1
    assert "row 3: column 'event.last_login' is not an ISO 8601" in first.stderr
    assert "imported 1, skipped 0" in first.stdout
    assert "created the key file" in first.stderr
    assert (home / "keys.json").exists()
    shown = runner.invoke(
        app,
        ["subjects", "show", "--policy", POLICY, "--email", "ADA@example.se", "--format", "json"],
    )
    assert shown.exit_code == 0, shown.stderr
    subject = json.loads(shown.stdout)
    assert subject["identities"] == {"email": "ada@example.se"}
    assert {r["category"]: r["fields"] for r in subject["records"]} == {
        "contact": {"name": "Ada Lund"},
        "sales": {"order": "A1"},
    }
    assert subject["customer"] and subject["events"]["last_login"].startswith("2024-05-01")
    text = runner.invoke(app, ["subjects", "show", "--policy", POLICY, "--email", "ada@example.se"])
    assert text.exit_code == 0 and "Ada Lund" in text.stdout
    missing = runner.invoke(
        app, ["subjects", "show", "--policy", POLICY, "--email", "nobody@example.se"]
    )
    assert missing.exit_code == 1
    rotated = runner.invoke(app, ["keys", "rotate", "--policy", POLICY])
    assert rotated.exit_code == 0 and "rotated: 3 keys" in rotated.stdout
    replay = runner.invoke(app, ["vault", "replay-erasures", "--policy", POLICY])
    assert replay.exit_code == 0 and "replayed 0 ledger entries" in replay.stdout
    upgraded = runner.invoke(app, ["db", "upgrade", "--policy", POLICY])
    assert upgraded.exit_code == 0 and "is up to date" in upgraded.stdout


def test_missing_key_is_one_clear_line(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "p.jsonl"
    data.write_text('{"email": "k@example.se", "contact.name": "K"}\n')
    assert runner.invoke(app, ["subjects", "import", "--policy", POLICY, str(data)]).exit_code == 0
    (home / "keys.json").unlink()
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from integritet.cli import main; main()",
            "subjects",
            "show",
            "--policy",
            POLICY,
            "--email",
            "k@example.se",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 4
    assert result.stderr.startswith("error: the database holds encrypted data")
    assert "Traceback" not in result.stderr
