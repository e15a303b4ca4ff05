"""Fixtures for the seed-service scenarios (see :mod:`scenarios.helpers`).

``make_service(name, url)`` gives a :class:`~scenarios.helpers.Service` on the example
manifest of ``name``: a fresh ``INTEGRITET_HOME``, the database at ``url`` (pass the
``migrated_database_url`` fixture for tests that touch the vault, so they run on SQLite
and PostgreSQL; without a URL, a SQLite file), a :class:`FixedClock` at 2026-01-15
09:00 UTC, a real SMTP server, and the CLI with all of it in the environment.

Every database starts as a copy of one migrated template (``migrated_*_url`` in
``tests/conftest.py``): each test still gets its own empty database, without paying for
the Alembic migrations each time.
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
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mailbox: Mailbox,
    run_cli: Callable[..., Any],
) -> Iterator[Callable[[str, str | None], Service]]:
    opened: list[Service] = []
    monkeypatch.delenv("INTEGRITET_KEK", raising=False)

    def make(name: str, url: str | None = None) -> Service:
        if url is None:
            url = str(request.getfixturevalue("migrated_sqlite_url"))
        service = open_service(
            name,
            home=tmp_path / "home",
            database_url=url,
            mailbox=mailbox,
            runner=run_cli,
            env=monkeypatch.setenv,
        )
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.close()
