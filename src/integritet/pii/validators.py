"""Check-digit and date validators for the identifiers the detectors find.

All take digits as a ``str`` (separators already removed) and return ``bool``;
none raises on bad input. Each is a few lines of arithmetic, run only on
candidates a regular expression has already found.
"""

from __future__ import annotations

from datetime import date

_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24,
    "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GI": 23,
    "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
    "RS": 22, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29, "VA": 22,
}  # fmt: skip


def luhn(digits: str) -> bool:
    """The Luhn (mod 10) check used by cards, personnummer, org numbers, bankgiro, plusgiro."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban(value: str) -> bool:
    """ISO 13616 mod-97 check, with the length each country uses."""
    value = value.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(value[:2])
    if expected is None or len(value) != expected or not value[2:4].isdigit():
        return False
    if not value.isalnum() or not value.isascii():
        return False
    rearranged = value[4:] + value[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _century(yymmdd: str, plus: bool, today: date) -> int:
    """The century of a 10-digit personnummer: ``+`` means 100 years or older."""
    yy = int(yymmdd[:2])
    year = today.year - today.year % 100 + yy
    if year > today.year:
        year -= 100
    if plus:
        year -= 100
    return year - yy


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def personnummer(digits: str, *, plus: bool = False, today: date | None = None) -> bool:
    """A personnummer or samordningsnummer (day + 60), 10 or 12 digits, Luhn over the last 10."""
    if len(digits) == 12:
        year, rest = int(digits[:4]), digits[2:]
        if not 1850 <= year <= (today or date.today()).year:
            return False
    elif len(digits) == 10:
        rest = digits
        year = _century(digits[:6], plus, today or date.today()) + int(digits[:2])
    else:
        return False
    if not rest.isdigit():
        return False
    month, day = int(rest[2:4]), int(rest[4:6])
    if day > 60:
        day -= 60  # samordningsnummer
    return _valid_date(year, month, day) and luhn(rest)


def organisationsnummer(digits: str) -> bool:
    """A Swedish organisationsnummer: 10 digits (or 16 + 10), third digit >= 2, Luhn."""
    if len(digits) == 12:
        if not digits.startswith("16"):
            return False
        digits = digits[2:]
    if len(digits) != 10 or not digits.isdigit():
        return False
    return digits[2] >= "2" and luhn(digits)


def bankgiro(digits: str) -> bool:
    """A bankgiro number: 7 or 8 digits, the last a Luhn check digit."""
    return 7 <= len(digits) <= 8 and luhn(digits)


def plusgiro(digits: str) -> bool:
    """A plusgiro number: 2 to 8 digits, the last a Luhn check digit."""
    return 2 <= len(digits) <= 8 and luhn(digits)


def credit_card(digits: str) -> bool:
    """A payment card number: 13-19 digits, a known issuer prefix, Luhn."""
    n = len(digits)
    if not 13 <= n <= 19 or not digits.isdigit():
        return False
    ok_prefix = (
        (digits[0] == "4" and n in (13, 16, 19))
        or (digits[:2] in ("34", "37") and n == 15)
        or ("51" <= digits[:2] <= "55" and n == 16)
        or ("2221" <= digits[:4] <= "2720" and n == 16)
        or (digits[:4] == "6011" or digits[:2] == "65")
        or (digits[:2] in ("50", "56", "57", "58", "63", "67") and n >= 16)
    )
    return ok_prefix and luhn(digits)
