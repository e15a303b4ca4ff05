"""``integritet.cli.main``: known errors are one line and an exit code, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest
import typer

import integritet.cli
from integritet import __version__
from integritet.errors import AccessDenied, IntegritetError, KeyUnavailable


def _failing_app(exc: BaseException) -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def boom() -> None:
        raise exc

    @app.command()
    def fine(code: int = 0) -> None:
        if code:
            raise typer.Exit(code)

    return app


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (IntegritetError("the thing failed"), 1, "error: the thing failed"),
        (
            AccessDenied("role 'support' may not export"),
            3,
            "error: access denied: role 'support' may not export",
        ),
        (KeyUnavailable("key file missing"), 4, "error: key file missing"),
    ],
)
def test_known_errors_are_one_line(
    exc: IntegritetError, code: int, line: str, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integritet.cli, "app", _failing_app(exc))
    result = run_cli("boom")
    assert result.exit_code == code
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


def test_unexpected_errors_hide_the_traceback_and_message(
    run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INTEGRITET_DEBUG", raising=False)
    monkeypatch.setattr(integritet.cli, "app", _failing_app(RuntimeError("anna@example.com")))
    result = run_cli("boom")
    assert result.exit_code == 70
    assert result.stderr.strip() == (
        "internal error (RuntimeError); set INTEGRITET_DEBUG=1 for details"
    )
    assert "Traceback" not in result.output and "anna@example.com" not in result.output


def test_debug_lets_the_exception_through(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTEGRITET_DEBUG", "1")
    monkeypatch.setattr(integritet.cli, "app", _failing_app(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        run_cli("boom")


def test_keyboard_interrupt_exits_130(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integritet.cli, "app", _failing_app(KeyboardInterrupt()))
    result = run_cli("boom")
    assert result.exit_code == 130
    assert "Traceback" not in result.output


def test_typer_exit_codes_are_kept(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integritet.cli, "app", _failing_app(RuntimeError()))
    assert run_cli("fine").exit_code == 0
    assert run_cli("fine", "--code", "3").exit_code == 3


def test_usage_errors_exit_2(run_cli: Any) -> None:
    result = run_cli("no-such-command")
    assert result.exit_code == 2
    assert "No such command" in result.stderr
    assert "Traceback" not in result.output


def test_version(run_cli: Any) -> None:
    result = run_cli("--version")
    assert (result.exit_code, result.stdout.strip()) == (0, f"integritet {__version__}")
