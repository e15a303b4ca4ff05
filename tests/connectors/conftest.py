"""Fixtures for the connector tests: the CRM database on SQLite, PostgreSQL and MariaDB.

The schema is created once per backend and session; each test gets the rows reloaded,
which is much faster than creating tables for every test on the servers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from connectors import crm
from integritet.connectors.sql import SQLConnector
from integritet.db import make_engine
from integritet.manifest import Manifest, load_manifest

ROOT = Path(__file__).resolve().parents[2]

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


def _server_database(
    admin_url: str, create: str, drop: str, url: Callable[[str], str]
) -> Iterator[str]:
    name = f"crm_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(create.format(name=name)))
    except Exception as exc:  # OperationalError and friends
        _unavailable(admin_url.split(":", 1)[0], exc)
    try:
        yield url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(drop.format(name=name)))
        admin.dispose()


@pytest.fixture(scope="session")
def crm_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("crm") / "crm.db"
    yield f"sqlite:///{path}"


@pytest.fixture(scope="session")
def crm_postgresql() -> Iterator[str]:
    sep = "&" if "?" in PG_BASE else "?"
    yield from _server_database(
        PG_BASE,
        'CREATE SCHEMA "{name}"',
        'DROP SCHEMA IF EXISTS "{name}" CASCADE',
        lambda name: f"{PG_BASE}{sep}options=-csearch_path%3D{name}",
    )


@pytest.fixture(scope="session")
def crm_mariadb() -> Iterator[str]:
    yield from _server_database(
        f"{MARIADB_BASE}/test",
        "CREATE DATABASE `{name}`",
        "DROP DATABASE IF EXISTS `{name}`",
        lambda name: f"{MARIADB_BASE}/{name}",
    )


_CREATED: set[str] = set()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def crm_url(request: pytest.FixtureRequest) -> str:
    """The CRM with its original rows, on every backend (MariaDB always included)."""
    url: str = request.getfixturevalue(f"crm_{request.param}")
    engine = make_engine(url)
    try:
        if url not in _CREATED:
            crm.META.create_all(engine)
            _CREATED.add(url)
        crm.reload(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def crm_engine(crm_url: str) -> Iterator[Engine]:
    engine = make_engine(crm_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _connectors() -> Iterator[dict[str, SQLConnector]]:
    cache: dict[str, SQLConnector] = {}
    yield cache
    for conn in cache.values():
        conn.close()


@pytest.fixture(scope="session")
def manifest() -> Manifest:
    """The Loggamera manifest (its bokforing hold covers the CRM's sales), loaded once."""
    return load_manifest(ROOT / "examples" / "loggamera" / "policy.yaml")


@pytest.fixture
def connector(
    crm_url: str, manifest: Manifest, _connectors: dict[str, SQLConnector]
) -> SQLConnector:
    """A connector over the CRM, reused per backend (reflection takes a while on servers)."""
    if crm_url not in _connectors:
        _connectors[crm_url] = SQLConnector(crm.dataset(), crm_url, manifest=manifest)
    return _connectors[crm_url]
