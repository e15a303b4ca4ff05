"""The ``integritet`` command. Each feature registers its commands in its own module."""

from __future__ import annotations

import os
import sys

import typer
from typer.exceptions import TyperException

from integritet.cli.app import app
from integritet.db import dispose_all
from integritet.errors import IntegritetError

# Feature modules register their commands on ``app`` when imported.
from integritet.cli import manifest as _manifest  # noqa: F401  isort: skip
from integritet.cli import requests as _requests  # noqa: F401  isort: skip
from integritet.cli import publish as _publish  # noqa: F401  isort: skip
from integritet.cli import vault as _vault  # noqa: F401  isort: skip
from integritet.cli import pii as _pii  # noqa: F401  isort: skip
from integritet.cli import audit as _audit  # noqa: F401  isort: skip
from integritet.cli import retention as _retention  # noqa: F401  isort: skip
from integritet.cli import consent as _consent  # noqa: F401  isort: skip
from integritet.cli import server as _server  # noqa: F401  isort: skip
from integritet.cli import staff as _staff  # noqa: F401  isort: skip
from integritet.cli import telemetry as _telemetry  # noqa: F401  isort: skip
from integritet.cli import disclosure as _disclosure  # noqa: F401  isort: skip

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI: known errors become one line and an exit code, never a traceback."""
    try:
        # With standalone_mode=False click returns the code of typer.Exit instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except IntegritetError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except TyperException as exc:  # usage errors and bad parameters (typer's own click)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # never a traceback; the type only, never a message with data
        if os.environ.get("INTEGRITET_DEBUG"):
            raise
        typer.echo(
            f"internal error ({type(exc).__name__}); set INTEGRITET_DEBUG=1 for details",
            err=True,
        )
        sys.exit(70)
    finally:
        # Close every connection the command opened (it matters when commands run in-process).
        dispose_all()
