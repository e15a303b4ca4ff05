"""The ``integritet retention`` commands, run as a user would (a subprocess-free CliRunner)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from integritet.cli import app
from integritet.cli.retention import parse_when
from integritet.clock import FixedClock
from integritet.errors import ConfigError, NotFound
from integritet.manifest import Manifest
from integritet.settings import Settings
from integritet.vault import open_vault

from .conftest import person

POLICY = str(Path(__file__).resolve().parents[2] / "examples" / "loggamera" / "policy.yaml")


@pytest.fixture
def cli_home(home: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", database_url)
    monkeypatch.setenv("INTEGRITET_SMTP_PORT", "9")  # nothing listens: a send would fail
    return Settings(home=home, database_url=database_url)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_event_then_dry_run_then_run(cli_home: Settings, loggamera: Manifest) -> None:
    clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
    vault = open_vault(cli_home, loggamera, clock, notify=lambda _m: None)
    sid = person(vault, "cli@example.se")
    vault.engine.dispose()

    code, output = invoke(
        "retention", "event", "--policy", POLICY, "--email", "cli@example.se", "last_login",
        "--at", "2026-01-15",
    )  # fmt: skip
    assert code == 0, output
    assert sid in output and "cli@example.se" not in output

    code, output = invoke(
        "retention", "run", "--policy", POLICY, "--dry-run", "--now", "2029-02-01",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, output
    data = json.loads(output)
    assert data["dry_run"] is True and data["due"] == 2 and data["done"] == 0
    assert "cli@example.se" not in output

    code, output = invoke("retention", "run", "--policy", POLICY, "--now", "2029-02-01")
    assert code == 0, output
    assert "subjects erased entirely: 1" in output
    vault = open_vault(cli_home, loggamera, clock, notify=lambda _m: None)
    assert not vault.exists(sid)
    vault.engine.dispose()


def test_unknown_event_and_subject_are_clear_errors(cli_home: Settings) -> None:
    runner = CliRunner()
    args = ["retention", "event", "--policy", POLICY, "--email", "nobody@example.se"]
    result = runner.invoke(app, [*args, "logged_in"])
    assert isinstance(result.exception, ConfigError)
    assert "unknown event 'logged_in'" in result.exception.message
    result = runner.invoke(app, [*args, "last_login"])
    assert isinstance(result.exception, NotFound)
    assert "nobody" not in result.exception.message


def test_bad_now_is_a_config_error(cli_home: Settings) -> None:
    with pytest.raises(ConfigError, match="bad date"):
        parse_when("next tuesday")
    assert parse_when("2029-01-16") == datetime(2029, 1, 16, tzinfo=UTC)
