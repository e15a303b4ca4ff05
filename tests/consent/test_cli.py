from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conftest import CliResult, example_path
from integritet.access import Actor
from integritet.manifest import load_manifest
from integritet.settings import Settings
from integritet.vault import open_vault

POLICY = str(example_path("loggamera"))


def add_person(email: str, customer: bool = False) -> str:
    manifest = load_manifest(example_path("loggamera"))
    vault = open_vault(Settings(), manifest, notify=lambda _m: None)
    actor = Actor.system("test")
    org = vault.create_customer(actor, "Fastighets AB", "556677-8899") if customer else None
    subject = vault.create_subject(actor, "account", {"email": email}, customer=org)
    vault.put_record(actor, "account", subject, "contact", {"name": "Anna"}, source="person")
    vault.close()
    return subject


def test_set_and_check_per_purpose_and_channel(
    home: Path, run_cli: Callable[..., CliResult]
) -> None:
    add_person("anna@example.se")
    no = run_cli(
        "consent", "check", "--policy", POLICY, "--email", "anna@example.se", "newsletter", "sms"
    )
    assert no.exit_code == 1 and no.stdout.strip() == "no: no consent given"
    ok = run_cli(
        "consent",
        "set",
        "--policy",
        POLICY,
        "--email",
        "anna@example.se",
        "newsletter",
        "sms",
        "given",
    )
    assert ok.exit_code == 0, ok.output
    yes = run_cli(
        "consent", "check", "--policy", POLICY, "--email", "anna@example.se", "newsletter", "sms"
    )
    assert yes.exit_code == 0 and yes.stdout.startswith("yes: consent given on ")
    email = run_cli(
        "consent", "check", "--policy", POLICY, "--email", "anna@example.se", "newsletter", "email"
    )
    assert email.exit_code == 1
    shown = run_cli(
        "consent", "show", "--policy", POLICY, "--email", "anna@example.se", "--format", "json"
    )
    states = {(r["purpose"], r["channel"]): r["state"] for r in json.loads(shown.stdout)}
    assert states[("newsletter", "sms")] == "given"
    assert states[("offers", "phone")] == "never_asked"


def test_unknown_person_purpose_and_channel_are_one_line_errors(
    home: Path, run_cli: Callable[..., CliResult]
) -> None:
    add_person("anna@example.se")
    missing = run_cli(
        "consent", "check", "--policy", POLICY, "--email", "x@example.se", "newsletter", "sms"
    )
    assert missing.exit_code == 1 and "no subject with that email" in missing.stderr
    assert "x@example.se" not in missing.output  # the address is not echoed back
    bad = run_cli(
        "consent",
        "set",
        "--policy",
        POLICY,
        "--email",
        "anna@example.se",
        "newsletter",
        "fax",
        "given",
    )
    assert bad.exit_code == 1 and "no channel 'fax'" in bad.stderr
    assert "Traceback" not in bad.output + missing.output


def test_export_then_import_round_trip(
    home: Path, tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    add_person("anna@example.se")
    run_cli(
        "consent",
        "set",
        "--policy",
        POLICY,
        "--email",
        "anna@example.se",
        "reports",
        "email",
        "given",
        "--text",
        "Ja tack",
    )
    exported = tmp_path / "c.csv"
    assert run_cli("consent", "export", "--policy", POLICY, "-o", str(exported)).exit_code == 0
    lines = exported.read_text().splitlines()
    assert lines[0].startswith("email,purpose,channel,state,at")
    assert lines[1].startswith("anna@example.se,reports,email,given,")
    bad = tmp_path / "bad.csv"
    bad.write_text(lines[0] + "\nnobody@example.se,reports,email,given,,,,,,,\n" + lines[1] + "\n")
    result = run_cli("consent", "import", "--policy", POLICY, str(bad))
    assert result.exit_code == 1
    assert "row 2: no subject with that email" in result.stderr
    assert "imported 1 consent decisions" in result.stdout
