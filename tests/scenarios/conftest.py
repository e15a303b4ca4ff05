"""Fixtures for the seed-service scenarios (see :mod:`scenarios.helpers`).

``make_service(name, url)`` gives a :class:`~scenarios.helpers.Service` on the example
manifest of ``name``: a fresh ``INTEGRITET_HOME``, the database at ``url`` (pass the
``database_url`` fixture for tests that touch the vault, so they run on SQLite and
PostgreSQL), a :class:`FixedClock` at 2026-01-15 09:00 UTC, a real SMTP server, and
the CLI with all of it in the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scenarios.helpers import Mailbox, Service, open_service


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def make_service(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mailbox: Mailbox,
    run_cli: Callable[..., Any],
) -> Iterator[Callable[[str, str | None], Service]]:
    opened: list[Service] = []
    monkeypatch.delenv("INTEGRITET_KEK", raising=False)

    def make(name: str, url: str | None = None) -> Service:
        service = open_service(
            name,
            home=tmp_path / "home",
            database_url=url or f"sqlite:///{tmp_path / 'integritet.db'}",
            mailbox=mailbox,
            runner=run_cli,
            env=monkeypatch.setenv,
        )
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.close()
