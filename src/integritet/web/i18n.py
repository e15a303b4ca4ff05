"""The web UI's words in Swedish and English, the language of a request, and dates.

The language is ``?lang=sv|en`` when given (remembered in the ``integritet_lang``
cookie), else the cookie, else the browser's ``Accept-Language``, else Swedish. Each
message is a pair ``(sv, en)``, so a message cannot exist in one language only; a test
checks that every key the templates use is here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import Request

from integritet.clock import utc
from integritet.web.messages import MESSAGES

LANGS = ("sv", "en")
LANG_COOKIE = "integritet_lang"
MONTHS_SV = (
    "januari februari mars april maj juni juli augusti september oktober november december"
).split()
MONTHS_EN = (
    "January February March April May June July August September October November December"
).split()
UNITS = {
    "min": (("minut", "minuter"), ("minute", "minutes")),
    "h": (("timme", "timmar"), ("hour", "hours")),
    "d": (("dag", "dagar"), ("day", "days")),
    "w": (("vecka", "veckor"), ("week", "weeks")),
    "m": (("månad", "månader"), ("month", "months")),
    "y": (("år", "år"), ("year", "years")),
}


def requested_lang(request: Request) -> str | None:
    """The language asked for in the query string, if it is one we speak."""
    asked = request.query_params.get("lang")
    return asked if asked in LANGS else None


def lang_of(request: Request) -> str:
    """sv or en: the query, the cookie, Accept-Language, then Swedish."""
    asked = requested_lang(request)
    if asked is not None:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGS:
        return cookie
    return accept_language(request.headers.get("accept-language", ""))


def accept_language(header: str) -> str:
    """The preferred of sv/en in an Accept-Language header (quality values honoured)."""
    best, best_q = "sv", -1.0
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > best_q:
            best, best_q = primary, quality
    return best


def translate(lang: str, key: str, **params: Any) -> str:
    """The message ``key`` in ``lang``, formatted with ``params``; a missing key is a bug."""
    sv, en = MESSAGES[key]
    text = sv if lang == "sv" else en
    return text.format(**params) if params else text


def format_date(value: date | datetime | None, lang: str) -> str:
    """``15 januari 2026`` in Swedish, ``15 January 2026`` in English."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = utc(value).date()
    months = MONTHS_SV if lang == "sv" else MONTHS_EN
    return f"{value.day} {months[value.month - 1]} {value.year}"


def format_datetime(value: datetime | None, lang: str) -> str:
    """A date and the time in UTC, e.g. ``15 januari 2026 14:05 UTC``."""
    if value is None:
        return "—"
    moment = utc(value)
    return f"{format_date(moment, lang)} {moment:%H:%M} UTC"


def duration_words(amount: int, unit: str, lang: str) -> str:
    """``3 år``, ``1 month``: a manifest duration in words."""
    sv, en = UNITS[unit]
    one, many = sv if lang == "sv" else en
    return f"{amount} {one if amount == 1 else many}"


def pick(text: Any, lang: str) -> str:
    """A manifest ``Text`` (or its dict form) in ``lang``; other values as they are."""
    if text is None:
        return ""
    if isinstance(text, dict):
        return str(text.get(lang) or text.get("sv") or "")
    value = getattr(text, lang, None)
    return str(value) if value is not None else str(text)
