"""Identity forms: what counts as the same email, phone or personnummer."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

from integritet.connectors.identity import (
    email_forms,
    match,
    personnummer_forms,
    phone_forms,
)
from integritet.errors import ConnectorError


def test_email_ignores_case_and_blanks() -> None:
    assert email_forms("  Anna@Example.SE ") == {"anna@example.se"}


@pytest.mark.parametrize("typed", ["070-123 45 67", "+46 70 123 45 67", "0046701234567"])
def test_swedish_phones_match_in_every_usual_form(typed: str) -> None:
    assert phone_forms(typed) == {"46701234567", "0701234567", "0046701234567", "460701234567"}


def test_foreign_phone_keeps_its_country() -> None:
    assert phone_forms("+47 912 34 567") == {"4791234567", "004791234567"}
    with pytest.raises(ConnectorError, match="no digits"):
        phone_forms("call me")


def test_personnummer_with_and_without_century() -> None:
    today = date(2026, 1, 15)
    assert personnummer_forms("800101-1234", today) == {"198001011234", "8001011234"}
    assert personnummer_forms("100101-1234", today) == {"201001011234", "1001011234"}
    assert personnummer_forms("100101+1234", today) == {"191001011234", "1001011234"}
    assert personnummer_forms("19800101-1234", today) == {"198001011234", "8001011234"}
    with pytest.raises(ConnectorError, match="10 or 12 digits"):
        personnummer_forms("12345", today)


def test_sql_match_normalises_the_stored_column() -> None:
    meta = MetaData()
    people = Table(
        "people",
        meta,
        Column("id", Integer, primary_key=True),
        Column("email", String(100)),
        Column("phone", String(40)),
        Column("pnr", String(20)),
    )
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            people.insert(),
            [
                {
                    "id": 1,
                    "email": " ANNA@example.se",
                    "phone": "+46 (0)70-123 45 67",
                    "pnr": "800101-1234",
                },
                {"id": 2, "email": "bo@example.se", "phone": "08-12 34 56", "pnr": None},
            ],
        )
        found = {
            "email": conn.execute(
                select(people.c.id).where(match("email", people.c.email, "anna@EXAMPLE.se"))
            ).scalars().all(),
            "phone": conn.execute(
                select(people.c.id).where(match("phone", people.c.phone, "0701234567"))
            ).scalars().all(),
            "pnr": conn.execute(
                select(people.c.id).where(match("personnummer", people.c.pnr, "198001011234"))
            ).scalars().all(),
        }  # fmt: skip
    engine.dispose()
    assert found == {"email": [1], "phone": [1], "pnr": [1]}
