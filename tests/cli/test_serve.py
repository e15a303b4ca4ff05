"""``integritet serve`` refuses to start on an undeclared node location (V8)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
LOOP = ROOT / "examples" / "loop-backup" / "policy.yaml"


def test_serve_refuses_an_undeclared_node_location(
    run_cli: Callable[..., Any],
    home: Path,
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[Any] = []
    monkeypatch.setenv("INTEGRITET_DATABASE_URL", migrated_database_url)
    monkeypatch.setattr("integritet.cli.server._uvicorn", lambda *a, **k: started.append(a))
    monkeypatch.setattr("integritet.api.app.create_app", lambda *a, **k: object())
    monkeypatch.setenv("INTEGRITET_LOCATION", "mars-base")
    refused = run_cli("serve", "-p", str(LOOP))
    assert refused.exit_code != 0 and started == []
    assert "mars-base" in refused.stderr and "not declared" in refused.stderr
    assert "Traceback" not in refused.output
    assert len(refused.stderr.strip().splitlines()) == 1
    monkeypatch.setenv("INTEGRITET_LOCATION", "gcp-finland")
    ok = run_cli("serve", "-p", str(LOOP))
    assert ok.exit_code == 0, ok.output
    assert len(started) == 1
