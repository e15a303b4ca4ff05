"""Server commands: serve, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from integritet.cli.app import app
from integritet.cli.common import PolicyOption, err, load_policy
from integritet.settings import get_settings


def _run(policy_path: Path | None, host: str, port: int, banner: list[str]) -> None:
    import uvicorn

    from integritet.api.app import create_app
    from integritet.manifest import load_manifest

    settings = get_settings()
    manifest = load_manifest(policy_path) if policy_path else load_policy(None)
    application = create_app(settings, manifest)
    for line in banner:
        err.print(line)
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)


@app.command()
def serve(
    policy: PolicyOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the REST API and web UI."""
    _run(policy, host, port, [f"integritet serving on http://{host}:{port}/"])


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    service: Annotated[str, typer.Option(help="Which example service to demo.")] = "loggamera",
) -> None:
    """Start a demo server with an example service's policy on the embedded SQLite default."""
    from integritet.examples import example_policy

    path = example_policy(service)
    base = f"http://{host}:{port}"
    _run(
        path,
        host,
        port,
        [
            f"integritet demo: {service} ({path})",
            f"  open {base}/ in a browser",
            f"  policy (sv): {base}/api/v1/policy?lang=sv",
            f"  policy (en): {base}/api/v1/policy?lang=en",
            f"  API docs:    {base}/api/v1/docs",
            "  stop with Ctrl-C",
        ],
    )
