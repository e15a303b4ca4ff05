"""Languages, dates and the message catalogue."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from importlib.resources import files

from integritet.web.i18n import accept_language, duration_words, format_date, format_datetime
from integritet.web.messages import MESSAGES
from web.conftest import Web


def test_swedish_and_english_dates() -> None:
    assert format_date(date(2026, 1, 15), "sv") == "15 januari 2026"
    assert format_date(date(2026, 1, 15), "en") == "15 January 2026"
    moment = datetime(2026, 12, 3, 14, 5, tzinfo=UTC)
    assert format_datetime(moment, "sv") == "3 december 2026 14:05 UTC"
    assert format_date(None, "sv") == "—"


def test_accept_language_prefers_the_highest_quality() -> None:
    assert accept_language("en-GB,en;q=0.9,sv;q=0.8") == "en"
    assert accept_language("de-DE, sv;q=0.5, en;q=0.4") == "sv"
    assert accept_language("fr") == "sv"  # default: Swedish


def test_durations_in_words() -> None:
    assert duration_words(3, "y", "sv") == "3 år"
    assert duration_words(1, "m", "en") == "1 month"
    assert duration_words(30, "d", "sv") == "30 dagar"


def test_every_message_key_in_the_templates_exists_in_both_languages() -> None:
    root = files("integritet.web") / "templates"
    used: set[str] = set()
    pending = [root]
    while pending:
        folder = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append(entry)
            elif entry.name.endswith(".html"):
                used.update(re.findall(r"""\bt\(["']([a-z0-9_.]+)["']""", entry.read_text()))
    assert used, "the templates use the catalogue"
    fixed = {k for k in used if not k.endswith((".", "_"))}
    prefixes = used - fixed  # t("status." ~ value): a family of keys
    assert sorted(fixed - set(MESSAGES)) == []
    assert all(any(k.startswith(p) for k in MESSAGES) for p in prefixes)
    assert all(sv.strip() and en.strip() for sv, en in MESSAGES.values())


def test_language_switch_and_cookie(sqlite_web: Web) -> None:
    client = sqlite_web.client
    en = client.get("/portal/sign-in", headers={"accept-language": "en-US,en"})
    assert '<html lang="en">' in en.text and "På svenska" in en.text
    sv = client.get("/portal/sign-in?lang=sv")
    assert '<html lang="sv">' in sv.text and sv.cookies.get("integritet_lang") == "sv"
    assert 'hreflang="en"' in sv.text
