"""Retention of the company's own tables (``datasets`` with a ``timestamp`` column), on the
connectors' CRM schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from connectors import crm
from integritet.clock import FixedClock
from integritet.db import make_engine
from integritet.manifest import Manifest
from integritet.manifest.model import Anchor, Duration, RetentionRule
from integritet.retention import DatasetReport, RetentionReport, plan, run
from integritet.settings import Settings
from integritet.vault import Vault

from .conftest import opened

EXTRA = [
    RetentionRule(
        id="logins-1y", categories=["access_log"], duration=Duration.parse("1y"),
        anchor=Anchor.collected,
    ),
    RetentionRule(
        id="sales-180d", categories=["sales"], duration=Duration.parse("180d"),
        anchor=Anchor.collected, holds=["bokforing"],
    ),
]  # fmt: skip


@pytest.fixture
def crm_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    crm.META.create_all(engine)
    crm.reload(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def manifest(loggamera: Manifest) -> Manifest:
    rules = [*loggamera.retention, *EXTRA]
    return loggamera.model_copy(
        update={"retention": rules, "datasets": [crm.dataset()], "log_sources": []}
    )


@pytest.fixture
def vault(retention_settings: Settings, manifest: Manifest, clock: FixedClock) -> Iterator[Vault]:
    v = opened(retention_settings, manifest, clock)
    yield v
    v.engine.dispose()


def tables(report: RetentionReport) -> dict[str, DatasetReport]:
    assert all(d.error is None for d in report.datasets), report.datasets
    return {d.table: d for d in report.datasets}


def test_dry_run_reports_what_is_due_and_changes_nothing(
    crm_engine: Engine, manifest: Manifest, vault: Vault, clock: FixedClock, database_url: str
) -> None:
    before = crm.snapshot(crm_engine)
    report = plan(manifest, vault, clock, environ={"CRM_DATABASE_URL": database_url})
    due = {name: (d.rule, d.due, d.deleted) for name, d in tables(report).items()}
    assert due == {
        "contacts": ("three-years-after-login", 1, 0),  # Bo: last login 2022-03-01
        "logins": ("logins-1y", 2, 0),  # 2021-05-01 and 2022-03-01
        "invoices": ("sales-180d", 3, 0),  # all issued before 2025-07-19
    }
    assert crm.snapshot(crm_engine) == before


def test_rows_past_the_rule_are_deleted_and_held_rows_kept(
    crm_engine: Engine, manifest: Manifest, vault: Vault, clock: FixedClock, database_url: str
) -> None:
    before = crm.snapshot(crm_engine)
    report = run(manifest, vault, clock, environ={"CRM_DATABASE_URL": database_url})
    found = tables(report)
    assert found["contacts"].due == 1 and found["contacts"].deleted >= 1
    assert crm.keys(crm_engine, crm.contacts) == [1, 3]  # Bo is gone
    assert crm.keys(crm_engine, crm.logins) == [2, 4]  # Anna's 2021 login and Bo's are gone
    assert found["logins"].deleted == 1  # Bo's went with his contact row already
    assert found["invoices"].deleted == 0 and found["invoices"].held >= 3
    after = crm.snapshot(crm_engine)
    assert crm.keys(crm_engine, crm.invoices) == [1, 2, 3]  # Bokföringslagen: kept
    assert [row[3:5] for row in after["invoices"]] == [row[3:5] for row in before["invoices"]]
    assert after["order_lines"] == before["order_lines"]
    again = tables(run(manifest, vault, clock, environ={"CRM_DATABASE_URL": database_url}))
    assert (again["contacts"].due, again["logins"].due) == (0, 0)


def test_a_dataset_without_its_url_is_reported_and_skipped(
    manifest: Manifest, vault: Vault, clock: FixedClock
) -> None:
    report = run(manifest, vault, clock, environ={})
    (skipped,) = report.datasets
    assert skipped.dataset == "crm" and skipped.error is not None
    assert "CRM_DATABASE_URL" in skipped.error
