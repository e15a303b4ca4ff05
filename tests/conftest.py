"""Shared fixtures: database URLs for every backend, clocks, example manifests.

``database_url`` is parametrised over SQLite and PostgreSQL, so a test that
takes it runs on both. PostgreSQL tests get a fresh schema each; MariaDB tests
(``mariadb_url``) a fresh database each. When a server is unreachable the test
is skipped, except under ``CI=true`` where it fails: CI must run them.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from integritet.clock import FixedClock
from integritet.db import dispose_all
from integritet.manifest import Manifest, load_manifest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SERVICES = ["coffeecloud", "viewmybox", "loggamera", "loop-backup", "paam"]

PG_BASE = os.environ.get(
    "INTEGRITET_TEST_POSTGRES", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
MARIADB_BASE = os.environ.get("INTEGRITET_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({type(exc).__name__})"
    if IN_CI:
        pytest.fail(f"{message}: under CI=true this test must run, not skip")
    pytest.skip(message)


def _backends() -> list[str]:
    wanted = os.environ.get("INTEGRITET_TEST_BACKENDS", "sqlite,postgresql")
    return [b.strip() for b in wanted.split(",") if b.strip()]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'integritet.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # OperationalError and friends
        _unavailable("PostgreSQL", exc)
    sep = "&" if "?" in PG_BASE else "?"
    try:
        yield f"{PG_BASE}{sep}options=-csearch_path%3D{schema}"
    finally:
        dispose_all()  # engines the test made and did not dispose: close them now, not at GC
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(f"{MARIADB_BASE}/test")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}`"))
    except Exception as exc:
        _unavailable("MariaDB", exc)
    try:
        yield f"{MARIADB_BASE}/{name}"
    finally:
        dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on each backend in INTEGRITET_TEST_BACKENDS."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 1, 15, 9, 0, tzinfo=UTC))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty INTEGRITET_HOME, set in the environment for CLI tests."""
    h = tmp_path / "home"
    monkeypatch.setenv("INTEGRITET_HOME", str(h))
    monkeypatch.delenv("INTEGRITET_DATABASE_URL", raising=False)
    monkeypatch.delenv("INTEGRITET_KEK", raising=False)
    return h


def example_path(service: str) -> Path:
    return EXAMPLES / service / "policy.yaml"


@pytest.fixture
def loggamera() -> Manifest:
    return load_manifest(example_path("loggamera"))


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run ``integritet ARGS`` through the real entry point (``integritet.cli.main``)."""
    from integritet.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["integritet", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            dispose_all()  # the command's engines would otherwise die with a real process
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@dataclass
class SMTPServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""

    host: str
    port: int
    messages: list[EmailMessage]
    envelopes: list[tuple[str, list[str]]]  # (MAIL FROM, RCPT TOs) per message


class _SMTPCollector:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server.messages.append(message)
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SMTPServer]:
    """Start aiosmtpd on a free port; point INTEGRITET_SMTP_HOST/PORT at it (plain SMTP)."""
    from aiosmtpd.controller import Controller

    server = SMTPServer("127.0.0.1", _free_port(), [], [])
    controller = Controller(
        _SMTPCollector(server), hostname=server.host, port=server.port, enable_SMTPUTF8=True
    )
    controller.start()
    monkeypatch.setenv("INTEGRITET_SMTP_HOST", server.host)
    monkeypatch.setenv("INTEGRITET_SMTP_PORT", str(server.port))
    for name in ("TLS", "STARTTLS", "USER", "PASSWORD"):
        monkeypatch.delenv(f"INTEGRITET_SMTP_{name}", raising=False)
    try:
        yield server
    finally:
        controller.stop()


# ---------------------------------------------------------------- migrated databases
#
# Alembic takes seconds per database; tests that only need "a fresh database with the
# current schema" take ``migrated_database_url`` instead of ``database_url``. The schema is
# migrated once per session into a template: SQLite copies the template file per test,
# PostgreSQL clones a template database per test (CREATE DATABASE ... TEMPLATE) and drops
# the clone in the background after the test. Each test still gets its own empty database.


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from integritet.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("migrated") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.connect() as conn:  # one self-contained file: no -wal/-shm beside it
            conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    finally:
        engine.dispose()
    return path


@pytest.fixture
def migrated_sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite file with every migration applied (a copy of the session's template)."""
    target = tmp_path / "integritet.db"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite:///{target}"


@dataclass
class _PostgresTemplate:
    admin: Any  # an AUTOCOMMIT engine on PG_BASE
    name: str
    dropper: Any  # a one-thread executor that drops finished clones
    pending: list[Any]

    def url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(PG_BASE).set(database=database).render_as_string(hide_password=False)

    def drop(self, database: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[_PostgresTemplate]:
    from concurrent.futures import ThreadPoolExecutor

    from integritet.db import make_engine, upgrade

    name = f"itmpl_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _unavailable("PostgreSQL", exc)
    template = _PostgresTemplate(admin, name, ThreadPoolExecutor(1), [])
    try:
        engine = make_engine(template.url(name))
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # CREATE DATABASE ... TEMPLATE needs the template unused
        yield template
    finally:
        template.dropper.shutdown(wait=True)
        for future in template.pending:
            future.result()  # a failed drop fails the session loudly
        template.drop(name)
        admin.dispose()


@pytest.fixture
def migrated_postgres_url(_postgres_template: _PostgresTemplate) -> Iterator[str]:
    """A fresh PostgreSQL database with every migration applied (a clone of the template)."""
    template = _postgres_template
    name = f"t_{uuid.uuid4().hex[:12]}"
    with template.admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.name}" STRATEGY WAL_LOG'))
    try:
        yield template.url(name)
    finally:
        dispose_all()  # the test's engines let go of the clone before it is dropped
        template.pending.append(template.dropper.submit(template.drop, name))


@pytest.fixture(params=_backends())
def migrated_database_url(request: pytest.FixtureRequest) -> str:
    """Like ``database_url``, but the fresh database already has the current schema."""
    name = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    url: str = request.getfixturevalue(name)
    return url
