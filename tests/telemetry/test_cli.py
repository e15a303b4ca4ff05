"""The telemetry commands through the real entry point, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from integritet.errors import TelemetryError

from ..conftest import CliResult, example_path

POLICY = str(example_path("coffeecloud"))
CARD = "4111 1111 1111 1111"

Run = Callable[..., CliResult]


@pytest.fixture
def cli(
    home: Path, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch, run_cli: Run
) -> Run:
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", migrated_database_url)
    return run_cli


def _register(cli: Run) -> str:
    added = cli("telemetry", "customers", "add", "--policy", POLICY, "Acme Kaffe AB")
    assert added.exit_code == 0, added.output
    customer = added.stdout.strip().splitlines()[-1]
    site = cli("telemetry", "sites", "add", "--policy", POLICY, "--customer", customer, "Solna")
    assert site.exit_code == 0, site.output
    site_id = site.stdout.strip()
    machine = cli("telemetry", "machines", "add", "--policy", POLICY, "--customer", customer,
                  "--site", site_id, "--model", "TopBrewer", "cm-1")  # fmt: skip
    assert machine.exit_code == 0 and "registered machine cm-1" in machine.stdout
    return customer


def test_ingest_show_and_machines(cli: Run, tmp_path: Path) -> None:
    customer = _register(cli)
    lines = [
        {"machine": "cm-1", "at": "2026-01-14T08:00:00Z", "boiler_temp": 92.5},
        {"machine": "cm-1", "at": "2026-01-14T08:05:00Z", "technician_note": f"kort {CARD}"},
    ]
    path = tmp_path / "readings.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    result = cli("telemetry", "ingest", "--policy", POLICY, str(path))
    assert result.exit_code == 1  # line 3 is not JSON
    assert "line 2: technician_note stripped: contains CREDIT_CARD" in result.stdout
    assert "line 3: error: not valid JSON" in result.stdout
    assert "3 records: 1 stored, 1 stored in part, 0 refused, 1 errors" in result.stdout
    assert CARD not in result.output

    shown = cli("telemetry", "show", "--policy", POLICY, "--machine", "cm-1", "--format", "json")
    assert shown.exit_code == 0, shown.output
    values = {r["name"]: r["value"] for r in json.loads(shown.stdout)}
    assert values == {"boiler_temp": 92.5, "technician_note": "kort [CREDIT_CARD]"}

    listed = cli("telemetry", "machines", "list", "--policy", POLICY, "--format", "json")
    assert json.loads(listed.stdout)[0] == {
        "id": "cm-1", "customer": customer, "site": json.loads(listed.stdout)[0]["site"],
        "model": "TopBrewer", "serial": None,
    }  # fmt: skip

    refused = cli("telemetry", "show", "--policy", POLICY, "--machine", "cm-1",
                  "--purpose", "invoicing")  # fmt: skip
    assert refused.exit_code == 3
    assert refused.stderr.startswith("error: access denied: purpose 'invoicing'")
    unknown = cli("telemetry", "show", "--policy", POLICY, "--machine", "nope")
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "error: no machine 'nope'"
    missing = cli("telemetry", "ingest", "--policy", POLICY, str(tmp_path / "none.jsonl"))
    assert missing.exit_code == TelemetryError.exit_code
    assert missing.stderr.startswith("error: cannot read")
    assert "Traceback" not in refused.output + unknown.output + missing.output


def test_retention_dry_run_then_run(cli: Run, tmp_path: Path) -> None:
    _register(cli)
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"machine": "cm-1", "at": "2025-01-01T10:00:00Z", "brew_count": 7}))
    assert cli("telemetry", "ingest", "--policy", POLICY, str(path)).exit_code == 0
    dry = cli("telemetry", "retention", "--policy", POLICY, "--dry-run", "--now", "2026-01-15",
              "--format", "json")  # fmt: skip
    assert json.loads(dry.stdout)["readings"] == 1
    done = cli("telemetry", "retention", "--policy", POLICY, "--now", "2026-01-15")
    assert "1 aggregated and deleted" in done.stdout
    stats = cli("telemetry", "show", "--policy", POLICY, "--machine", "cm-1",
                "--aggregates", "day", "--format", "json")  # fmt: skip
    [day] = json.loads(stats.stdout)
    assert (day["name"], day["count"], day["sum"]) == ("brew_count", 1, 7.0)
