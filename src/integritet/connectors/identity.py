"""Matching identities in databases that store them however they like.

People type ``Anna@Example.SE ``, ``070-123 45 67``, ``+46 70 1234567``,
``19800101-1234`` and ``800101-1234``. Each kind has a normaliser for the value we
look for, a SQL expression that strips the stored column the same way (with plain
``lower``/``trim``/``replace``, which SQLite, PostgreSQL and MariaDB all have), and the
set of stored forms that count as equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from sqlalchemy import ColumnElement, func

from integritet.errors import ConnectorError

_PHONE_NOISE = (" ", "-", "(", ")", "+", ".", "/")
_PNR_NOISE = ("-", "+", " ")


def _strip(expr: ColumnElement[str], chars: tuple[str, ...]) -> ColumnElement[str]:
    for char in chars:
        expr = func.replace(expr, char, "")
    return expr


def email_forms(value: str) -> set[str]:
    """An email matches case-insensitively, surrounding blanks ignored."""
    return {value.strip().lower()}


def phone_forms(value: str) -> set[str]:
    """Digits only; a Swedish number matches as 46..., 0..., 0046... and +46 (0)... ."""
    digits = re.sub(r"\D", "", value)
    if not digits:
        raise ConnectorError("identity phone has no digits")
    plus = value.strip().startswith("+")
    if digits.startswith("0046"):
        national = digits[4:]
    elif plus and digits.startswith("46"):
        national = digits[2:]
    elif digits.startswith("0") and not digits.startswith("00"):
        national = digits[1:]
    else:
        # another country: international digits with or without a 00 prefix
        core = digits[2:] if digits.startswith("00") else digits
        return {core, "00" + core}
    national = national.lstrip("0")
    return {"46" + national, "0" + national, "0046" + national, "460" + national}


def personnummer_forms(value: str, today: date | None = None) -> set[str]:
    """A personnummer matches with or without century and separator (12 or 10 digits)."""
    today = today or date.today()
    digits = re.sub(r"\D", "", value)
    if len(digits) == 12:
        full = digits
    elif len(digits) == 10:
        year = int(digits[:2])
        century = today.year // 100
        if year > today.year % 100:
            century -= 1
        if "+" in value:  # 100 years or older
            century -= 1
        full = f"{century:02d}{digits}"
    else:
        raise ConnectorError("identity personnummer must have 10 or 12 digits")
    return {full, full[2:]}


def exact_forms(value: str) -> set[str]:
    return {value.strip()}


FORMS: dict[str, Callable[[str], set[str]]] = {
    "email": email_forms,
    "phone": phone_forms,
    "personnummer": personnummer_forms,
    "customer_number": exact_forms,
    "external_id": exact_forms,
}


def column_expression(kind: str, column: ColumnElement[str]) -> ColumnElement[str]:
    """The stored column normalised in SQL the way :data:`FORMS` normalises the value."""
    if kind == "email":
        return func.lower(func.trim(column))
    if kind == "phone":
        return _strip(func.trim(column), _PHONE_NOISE)
    if kind == "personnummer":
        return _strip(func.trim(column), _PNR_NOISE)
    return func.trim(column)


def match(kind: str, column: ColumnElement[str], value: str) -> ColumnElement[bool]:
    """A SQL condition: the stored ``column`` holds ``value`` in any accepted form."""
    forms = sorted(FORMS[kind](value))
    return column_expression(kind, column).in_(forms)
