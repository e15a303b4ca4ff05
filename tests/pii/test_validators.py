from __future__ import annotations

from datetime import date

import pytest

from integritet.pii import validators as v

TODAY = date(2026, 1, 15)


@pytest.mark.parametrize(
    ("digits", "plus", "ok"),
    [
        ("8112189876", False, True),  # 811218-9876
        ("198112189876", False, True),
        ("8112189875", False, False),  # wrong check digit
        ("8113189876", False, False),  # month 13
        ("8112789873", False, True),  # samordningsnummer: day 18 + 60
        ("8112929876", False, False),  # day 92 - 60 = 32: no such day
        ("1212121212", True, True),  # 121212+1212: born 1912
        ("191212121212", False, True),
        ("301212121", False, False),  # 9 digits
    ],
)
def test_personnummer(digits: str, plus: bool, ok: bool) -> None:
    assert v.personnummer(digits, plus=plus, today=TODAY) is ok


def test_personnummer_twelve_digits_refuse_future_years() -> None:
    assert not v.personnummer("209912121212", today=TODAY)


@pytest.mark.parametrize(
    ("digits", "ok"),
    [("5560360793", True), ("165560360793", True), ("5560360794", False), ("8112189876", False)],
)
def test_organisationsnummer(digits: str, ok: bool) -> None:
    # the third digit must be >= 2: a personnummer is never an organisation number
    assert v.organisationsnummer(digits) is ok


@pytest.mark.parametrize(
    ("digits", "ok"),
    [
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("378282246310005", True),  # Amex, 15 digits
        ("5555555555554444", True),
        ("1234567812345670", False),  # Luhn-valid but no issuer prefix
    ],
)
def test_credit_card(digits: str, ok: bool) -> None:
    assert v.credit_card(digits) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("SE45 5000 0000 0583 9825 7466", True),
        ("SE4550000000058398257466", True),
        ("SE45 5000 0000 0583 9825 7467", False),
        ("SE45 5000 0000 0583 9825 746", False),  # wrong length for SE
        ("GB82 WEST 1234 5698 7654 32", True),
        ("XX82 WEST 1234 5698 7654 32", False),
    ],
)
def test_iban(value: str, ok: bool) -> None:
    assert v.iban(value) is ok


def test_bankgiro_and_plusgiro() -> None:
    assert v.bankgiro("50501055")
    assert not v.bankgiro("50501056")
    assert not v.bankgiro("123456")  # too short for a bankgiro
    assert v.plusgiro("4100004")  # 410000-4
    assert not v.plusgiro("4100001")


def test_luhn_rejects_non_digits() -> None:
    assert not v.luhn("12a4")
