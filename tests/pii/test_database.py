"""Database column scans and find-and-remove, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert

from integritet.db import make_engine
from integritet.errors import PIIInputError
from integritet.manifest import Manifest
from integritet.pii.database import remove_from_datasets, remove_pii, scan_database, scan_datasets

ROWS = [
    (1, "Bytt filter, inga anmärkningar.", "ok"),
    (2, "Kunden Anna Berg vill bli uppringd på 070-123 45 67.", "ok"),
    (3, "Larm kvitterat. Mejla anna.berg@exempel.se om fler.", None),
    (4, "", "Hej Erik Lund, pnr 811218-9876"),
]


def _seed(url: str) -> None:
    engine = make_engine(url)
    meta = MetaData()
    notes = Table(
        "notes", meta,
        Column("id", Integer, primary_key=True), Column("note", Text), Column("tag", String(80)),
    )  # fmt: skip
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(notes), [{"id": i, "note": n, "tag": t} for i, n, t in ROWS])
    engine.dispose()


def test_scan_database_counts_per_column(database_url: str) -> None:
    _seed(database_url)
    seen: list[int] = []
    report = scan_database(database_url, "notes", progress=seen.append)
    assert sum(seen) == len(ROWS)
    assert dict(report.counts["notes.note"]) == {"PERSON": 1, "PHONE_NUMBER": 1, "EMAIL_ADDRESS": 1}
    assert dict(report.counts["notes.tag"]) == {"PERSON": 1, "SE_PERSONNUMMER": 1}
    assert "811218" not in json.dumps(report.to_dict())
    only = scan_database(database_url, "notes", ["tag"])
    assert set(only.scanned) == {"notes.tag"}


def test_scan_database_bad_table_and_column(database_url: str) -> None:
    _seed(database_url)
    with pytest.raises(PIIInputError, match="does not exist"):
        scan_database(database_url, "nope")
    with pytest.raises(PIIInputError, match="no column"):
        scan_database(database_url, "notes", ["nope"])


def test_find_and_remove_redacts_free_text(database_url: str) -> None:
    _seed(database_url)
    dry = remove_pii(database_url, "notes", ["note"], dry_run=True)
    assert dry.rows == 2 and dry.total == 3
    report = remove_pii(database_url, "notes", ["note"])
    assert report.rows == 2
    assert dict(report.removed["notes.note"]) == {
        "PERSON": 1,
        "PHONE_NUMBER": 1,
        "EMAIL_ADDRESS": 1,
    }
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, note, tag FROM notes ORDER BY id").all()
    engine.dispose()
    assert rows[1][1] == "Kunden [PERSON] vill bli uppringd på [PHONE_NUMBER]."
    assert rows[2][1] == "Larm kvitterat. Mejla [EMAIL_ADDRESS] om fler."
    assert rows[0][1] == ROWS[0][1] and rows[3][2] == ROWS[3][2]  # untouched
    assert remove_pii(database_url, "notes", ["note"]).rows == 0  # idempotent


def test_manifest_datasets_scan_and_remove(
    sqlite_url: str, loggamera: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url)
    meta = MetaData()
    tables = {"sites": "description", "machines": "notes", "service_tickets": "body"}
    for name, col in tables.items():
        Table(name, meta, Column("id", Integer, primary_key=True), Column(col, Text))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(meta.tables["sites"]), [{"id": 1, "description": "Port vid gaveln"}])
        conn.execute(insert(meta.tables["machines"]), [{"id": 1, "notes": "Nyckel hos Eva Holm"}])
        conn.execute(
            insert(meta.tables["service_tickets"]),
            [{"id": 1, "body": "Ring 070-123 45 67"}, {"id": 2, "body": "Pumpen bytt"}],
        )
    engine.dispose()
    monkeypatch.setenv("LOGGAMERA_DB_URL", sqlite_url)
    report = scan_datasets(loggamera)
    assert dict(report.counts["portal:machines.notes"]) == {"PERSON": 1}
    assert dict(report.counts["portal:service_tickets.body"]) == {"PHONE_NUMBER": 1}
    assert report.scanned["portal:sites.description"] == 1
    removal = remove_from_datasets(loggamera)
    assert removal.rows == 2 and removal.total == 2
    assert scan_datasets(loggamera).total == 0


def test_dataset_without_url_is_a_clear_error(
    loggamera: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOGGAMERA_DB_URL", raising=False)
    with pytest.raises(PIIInputError, match="LOGGAMERA_DB_URL is not set"):
        scan_datasets(loggamera)
