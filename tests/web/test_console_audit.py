"""The console's audit log (paged, chain check on demand, customer admins' own events) and
the retention chart (bounded to 24 months)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from integritet.audit import AuditEvent
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from web.conftest import Web, build


def events(web: Web, count: int, customer: str | None = None, action: str = "test.event") -> None:
    for n in range(count):
        web.services.audit.append_now(
            AuditEvent(
                actor="system:test",
                action=action,
                outcome="done",
                customer=customer,
                detail={"n": n},
            )
        )


def test_the_log_is_paged_newest_first_and_the_chain_checked_on_demand(web: Web) -> None:
    events(web, 70)
    last, _hash = web.services.audit.head()
    web.console_sign_in("dpo")
    first = web.client.get("/console/audit?lang=en")
    assert first.status_code == 200
    positions = [int(p) for p in re.findall(r'<td class="num">(\d+)</td>', first.text)]
    assert positions == list(range(last, last - 50, -1))  # 50 rows, newest first
    assert "has not been checked since the server started" in first.text
    older = re.search(r'href="/console/audit\?before=(\d+)"', first.text)
    assert older is not None and int(older[1]) == last - 49
    second = web.client.get(f"/console/audit?before={older[1]}&lang=en")
    rest = [int(p) for p in re.findall(r'<td class="num">(\d+)</td>', second.text)]
    assert rest == list(range(last - 50, max(last - 100, 0), -1))
    checked = web.client.post("/console/audit/verify", data={"csrf_token": web.csrf()})
    assert "The chain is checked." in checked.text and "Intact" in checked.text
    assert "by staff:dpo" in checked.text
    assert web.services.audit.head()[0] > last  # the check itself is audited


@pytest.fixture
def customer_log_web(
    migrated_sqlite_url: str, tmp_path: Path, clock: FixedClock, web_manifest: Manifest
) -> Iterator[Web]:
    """The manifest offers the audit log to customers; their admins may read it (J16)."""
    data = web_manifest.model_dump(mode="json")
    data["security"]["customer_audit_log"] = True
    for role in data["roles"]:
        if role["id"] == "customer_admin":
            role["can"] = sorted({*role["can"], "read_audit"})
    manifest = Manifest.model_validate(data)
    yield from build(migrated_sqlite_url, tmp_path / "home", clock, manifest)


def test_a_customer_admin_sees_and_exports_only_their_customers_events(
    customer_log_web: Web,
) -> None:
    web = customer_log_web
    own, other = web.customers["a"], web.customers["b"]
    events(web, 3, own, "test.own")
    events(web, 2, other, "test.other")
    web.console_sign_in("admin_a")
    page = web.client.get("/console/audit?lang=en")
    assert page.status_code == 200
    assert "test.own" in page.text and "test.other" not in page.text
    assert "Kund A AB" in page.text and "Kund B AB" not in page.text
    assert "Check the chain now" not in page.text  # the whole chain is for scope all
    assert (
        web.client.post("/console/audit/verify", data={"csrf_token": web.csrf()}).status_code == 403
    )
    mine = web.client.get("/api/v1/audit/export", params={"format": "jsonl", "customer": own})
    assert mine.status_code == 200 and "test.own" in mine.text and "test.other" not in mine.text
    theirs = web.client.get("/api/v1/audit/export", params={"customer": other})
    assert theirs.status_code == 403


def test_without_the_manifests_offer_customer_admins_get_no_audit_page(sqlite_web: Web) -> None:
    sqlite_web.console_sign_in("admin_a")
    assert sqlite_web.client.get("/console/audit").status_code == 403


def test_the_retention_chart_covers_the_last_24_months(sqlite_web: Web) -> None:
    web = sqlite_web
    web.services.audit.append_now(
        AuditEvent(
            actor="system:retention",
            action="retention.deleted",
            outcome="done",
            detail={"records": 7},
        )
    )
    old_month = f"{web.clock.now():%Y-%m}"
    web.clock.advance(timedelta(days=30 * 30))  # 30 months later
    web.services.audit.append_now(
        AuditEvent(
            actor="system:retention",
            action="retention.deleted",
            outcome="done",
            detail={"records": 3},
        )
    )
    web.console_sign_in("dpo")
    page = web.client.get("/console/retention")
    assert page.status_code == 200
    assert f"{web.clock.now():%Y-%m}" in page.text
    assert old_month not in page.text  # older than 24 months: not read, not drawn
