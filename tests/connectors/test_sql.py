"""The SQL connector on a realistic CRM schema, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Column, Engine, ForeignKey, Integer, MetaData, Table, event, select

from connectors import crm
from integritet.connectors.base import Connector
from integritet.connectors.sql import SQLConnector, connectors_for, dataset_url
from integritet.errors import ConfigError, ConnectorError
from integritet.manifest import Manifest
from integritet.manifest.model import Dataset

ANNA = {"email": "anna.andersson@ACME.se"}
ANNAS_ROWS = {
    "contacts": [1],
    "addresses": [1],
    "tickets": [1],
    "invoices": [1],
    "order_lines": [1, 2],
    "logins": [1, 2],
    "newsletter": [1],
}


def found_keys(conn: SQLConnector, identities: dict[str, str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in conn.find(identities):
        out.setdefault(row.table, []).append(row.key)
    return {table: sorted(keys) for table, keys in out.items()}


def test_it_is_a_connector(connector: SQLConnector) -> None:
    assert isinstance(connector, Connector)


def test_find_follows_references_from_the_email(connector: SQLConnector) -> None:
    assert found_keys(connector, ANNA) == ANNAS_ROWS


@pytest.mark.parametrize(
    "identities",
    [
        {"phone": "+46701234567"},
        {"phone": "0046 70 123 45 67"},
        {"personnummer": "800101-1234"},
        {"personnummer": "198001011234"},
    ],
)
def test_find_matches_normalised_identities(
    connector: SQLConnector, identities: dict[str, str]
) -> None:
    keys = found_keys(connector, identities)
    assert keys["contacts"] == [1]
    assert "newsletter" not in keys  # only reachable by email


def test_unknown_person_and_no_identities_find_nothing(connector: SQLConnector) -> None:
    assert connector.find({"email": "nobody@example.com"}) == []
    assert connector.find({"email": "  "}) == []
    assert connector.erase({}).totals() == {"deleted": 0, "nulled": 0, "masked": 0, "held": 0}


def test_unknown_identity_kind_is_an_error(connector: SQLConnector) -> None:
    with pytest.raises(ConnectorError, match="unknown identity kind"):
        connector.find({"shoe_size": "42"})


def test_export_is_json_ready_per_table(connector: SQLConnector) -> None:
    data = connector.export(ANNA)
    assert {t: sorted(r["id"] for r in rows) for t, rows in data.items()} == ANNAS_ROWS
    invoice = data["invoices"][0]
    assert invoice["amount"] == "1200.00"
    assert invoice["issued_at"].startswith("2025-03-31")
    assert data["contacts"][0]["email"] == "Anna.Andersson@Acme.se"
    assert connector.categories()["invoices"] == {"billing_name": "sales", "amount": "sales"}


def test_erase_applies_each_action_and_reports_it(
    connector: SQLConnector, crm_engine: Engine
) -> None:
    report = connector.erase(ANNA)
    tables = report.tables
    assert tables["contacts"].deleted == [1]
    assert tables["addresses"].deleted == [1]
    assert sorted(tables["logins"].deleted) == [1, 2]
    assert tables["newsletter"].deleted == [1]
    assert tables["tickets"].nulled == {"reported_by": [1]}
    assert tables["tickets"].masked == {"description": [1]}
    assert tables["invoices"].held == [1]
    assert tables["invoices"].nulled == {"contact_id": [1]}
    assert sorted(tables["order_lines"].held) == [1, 2]
    assert tables["invoices"].reasons[0] == "kept under legal hold bokforing (bokforingslagen)"
    assert report.totals() == {"deleted": 5, "nulled": 2, "masked": 1, "held": 3}

    assert crm.keys(crm_engine, crm.contacts) == [2, 3]
    assert crm.keys(crm_engine, crm.addresses) == [2, 3]
    assert crm.keys(crm_engine, crm.logins) == [3, 4]
    assert crm.keys(crm_engine, crm.newsletter) == [2]
    assert crm.keys(crm_engine, crm.order_lines) == [1, 2, 3, 4]
    with crm_engine.connect() as db:
        ticket = db.execute(select(crm.tickets).where(crm.tickets.c.id == 1)).one()
        invoice = db.execute(select(crm.invoices).where(crm.invoices.c.id == 1)).one()
    assert (ticket.reported_by, ticket.description, ticket.subject) == (None, "[erased]", "Larm")
    assert (invoice.contact_id, invoice.billing_name) == (None, "Anna Andersson")
    assert connector.find(ANNA) == []


def test_erase_leaves_other_people_alone(connector: SQLConnector, crm_engine: Engine) -> None:
    before = crm.snapshot(crm_engine)
    connector.erase(ANNA)
    after = crm.snapshot(crm_engine)
    for table in ("customers", "sites", "machines"):
        assert after[table] == before[table]
    assert [r for r in before["contacts"] if r[0] != 1] == after["contacts"]
    assert [r for r in before["tickets"] if r[0] != 1] == after["tickets"][1:]


def test_erase_whole_sole_trader_customer(connector: SQLConnector, crm_engine: Engine) -> None:
    report = connector.erase({"customer_number": "C-1002"})
    assert report.tables["customers"].masked == {"org_name": [2]}
    assert report.tables["contacts"].deleted == [3]
    assert report.tables["tickets"].masked == {"description": [4]}
    assert report.tables["invoices"].held == [3]
    assert report.tables["sites"].deleted == [] and report.tables["machines"].held == []
    with crm_engine.connect() as db:
        names = dict(db.execute(select(crm.customers.c.id, crm.customers.c.org_name)).all())
    assert names == {1: "Acme AB", 2: "[erased]"}
    assert crm.keys(crm_engine, crm.contacts) == [1, 2]


def test_a_failure_mid_erasure_changes_nothing(connector: SQLConnector, crm_engine: Engine) -> None:
    before = crm.snapshot(crm_engine)
    seen: list[str] = []

    def explode(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0])
        if statement.startswith("DELETE FROM contacts"):
            raise RuntimeError("power cut")

    event.listen(connector.engine, "before_cursor_execute", explode)
    try:
        with pytest.raises(RuntimeError, match="power cut"):
            connector.erase(ANNA)
    finally:
        event.remove(connector.engine, "before_cursor_execute", explode)
    assert "UPDATE" in seen and seen.count("DELETE") >= 2  # logins went before contacts
    assert crm.snapshot(crm_engine) == before


def test_an_unmapped_reference_rolls_everything_back(
    connector: SQLConnector, crm_engine: Engine
) -> None:
    meta = MetaData()
    crm.contacts.to_metadata(meta)
    notes = Table(
        "notes",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("contact_id", ForeignKey("contacts.id"), nullable=False),
    )
    notes.create(crm_engine)
    try:
        with crm_engine.begin() as db:
            db.execute(notes.insert().values(id=1, contact_id=1))
        before = crm.snapshot(crm_engine)
        with pytest.raises(ConnectorError, match="table contacts refused") as info:
            connector.erase(ANNA)
        assert "anna" not in str(info.value).lower()
        assert crm.snapshot(crm_engine) == before
    finally:
        notes.drop(crm_engine)


def test_retention_finds_and_erases_expired_rows(
    connector: SQLConnector, crm_engine: Engine
) -> None:
    cutoff = datetime(2023, 1, 1, tzinfo=UTC)
    assert sorted(r.key for r in connector.expired("logins", cutoff)) == [1, 3]
    report = connector.erase_expired("logins", cutoff)
    assert sorted(report.tables["logins"].deleted) == [1, 3]
    assert crm.keys(crm_engine, crm.logins) == [2, 4]
    with pytest.raises(ConfigError, match="no timestamp column"):
        connector.expired("sites", cutoff)


def test_expired_contacts_take_their_rows_along(
    connector: SQLConnector, crm_engine: Engine
) -> None:
    report = connector.erase_expired("contacts", datetime(2023, 1, 1, tzinfo=UTC))
    assert report.tables["contacts"].deleted == [2]
    assert report.tables["logins"].deleted == [3]
    assert report.tables["invoices"].held == [2]


def test_released_holds_are_deleted(connector: SQLConnector, crm_engine: Engine) -> None:
    report = connector.erase_expired(
        "invoices", datetime(2025, 4, 1, tzinfo=UTC), release_holds=True
    )
    assert report.tables["invoices"].deleted == [1]
    assert sorted(report.tables["order_lines"].deleted) == [1, 2]
    assert crm.keys(crm_engine, crm.invoices) == [2, 3]


def test_free_text_is_listed_scanned_and_redacted(crm_url: str, crm_engine: Engine) -> None:
    def redact(text: str) -> str:
        return "".join("#" if ch.isdigit() else ch for ch in text)

    conn = SQLConnector(crm.dataset(), crm_url, redact=redact)
    assert conn.free_text_columns() == [("tickets", "description")]
    cells = list(conn.scan_free_text(batch=2))
    assert [(c.key, c.text) for c in cells][:2] == [
        (1, "Ring mig på 070-1234567 / Anna"),
        (2, "Filter"),
    ]
    assert [c.key for c in cells] == [1, 2, 4]  # ticket 3 has no text
    conn.replace_text("tickets", 2, "description", "Filterbyte")
    conn.erase(ANNA)
    with crm_engine.connect() as db:
        texts = dict(db.execute(select(crm.tickets.c.id, crm.tickets.c.description)).all())
    assert texts[1] == "Ring mig på ###-####### / Anna"
    assert texts[2] == "Filterbyte"
    with pytest.raises(ConfigError, match="not a free-text column"):
        conn.replace_text("tickets", 2, "subject", "x")
    conn.close()


def _validate(data: dict[str, Any], url: str) -> None:
    conn = SQLConnector(Dataset.model_validate(data), url)
    try:
        conn.validate()
    finally:
        conn.close()


def test_map_errors_name_what_is_missing(crm_url: str) -> None:
    bad = dict(crm.MAP, tables=[*crm.MAP["tables"], {"name": "ghosts"}])
    with pytest.raises(ConfigError, match="table\\(s\\) not in the database: ghosts"):
        _validate(bad, crm_url)
    tables = [dict(t) for t in crm.MAP["tables"]]
    tables[1] = {"name": "addresses", "columns": {"zipcode": {"category": "contact"}}}
    with pytest.raises(ConfigError, match=r"addresses\.zipcode"):
        _validate(dict(crm.MAP, tables=tables), crm_url)
    tables[1] = {"name": "addresses", "references": [{"column": "id", "table": "contacts"}]}
    with pytest.raises(ConfigError, match="cycle"):
        _validate(dict(crm.MAP, tables=tables), crm_url)


def test_dataset_urls_come_from_the_environment(manifest: Manifest) -> None:
    data = crm.dataset()
    with pytest.raises(ConfigError, match="CRM_DATABASE_URL is not set"):
        dataset_url(data, {})
    assert dataset_url(data, {"CRM_DATABASE_URL": "sqlite://"}) == "sqlite://"
    inline = Dataset.model_validate({**crm.MAP, "url_env": None, "url": "sqlite:///x.db"})
    assert dataset_url(inline, {}) == "sqlite:///x.db"
    with pytest.raises(ConfigError, match="give url_env"):
        dataset_url(Dataset.model_validate({**crm.MAP, "url_env": None}), {})
    with_crm = manifest.model_copy(update={"datasets": [data]})
    built = connectors_for(with_crm, {"CRM_DATABASE_URL": "sqlite://"})
    assert list(built) == ["crm"] and built["crm"].manifest is with_crm
    built["crm"].close()


def test_many_people_walked_together_get_their_own_rows(connector: SQLConnector) -> None:
    bo = {"phone": "+46 70 765 43 21"}
    alone = {"anna": found_keys(connector, ANNA), "bo": found_keys(connector, bo)}
    with connector._connect() as conn:
        together = connector._people(conn, {"anna": ANNA, "bo": bo, "nobody": {}})
    keys = {
        who: {table: sorted(rows) for table, rows in found.items() if rows}
        for who, found in together.items()
    }
    assert keys == {**alone, "nobody": {}}
    assert keys["anna"] == ANNAS_ROWS


def test_erase_many_is_each_persons_erasure_in_one_transaction(
    connector: SQLConnector, crm_engine: Engine
) -> None:
    bo = {"phone": "+46 70 765 43 21"}
    reports = connector.erase_many({"anna": ANNA, "bo": bo})
    assert reports["anna"].totals() == {"deleted": 5, "nulled": 2, "masked": 1, "held": 3}
    assert reports["bo"].tables["contacts"].deleted == [2]
    assert "newsletter" not in reports["bo"].tables
    assert crm.keys(crm_engine, crm.contacts) == [3]
    assert connector.find(ANNA) == [] and connector.find(bo) == []
