"""The five example manifests shipped with integritet (used by ``demo`` and the docs)."""

from __future__ import annotations

from pathlib import Path

from integritet.errors import NotFound

SERVICES = ("coffeecloud", "viewmybox", "loggamera", "loop-backup", "paam")


def example_policy(service: str) -> Path:
    """Path of ``examples/<service>/policy.yaml`` in a source checkout or an installed wheel."""
    if service not in SERVICES:
        raise NotFound(f"no example {service!r}; choose one of: {', '.join(SERVICES)}")
    here = Path(__file__).resolve().parent
    for base in (here / "examples", here.parent.parent / "examples"):
        candidate = base / service / "policy.yaml"
        if candidate.is_file():
            return candidate
    raise NotFound(f"example {service!r} is not installed with this copy of integritet")
