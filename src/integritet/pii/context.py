"""Context words that raise or lower a finding's confidence, in Swedish and English.

Words are matched as substrings of the lower-cased text just before a finding,
so Swedish compounds count too: "mobilnummer" and "mobilnr" contain "mobil",
"kontaktperson" contains "kontakt", "fakturaadress" contains "adress".
"""

from __future__ import annotations

import re

WINDOW = 40
"""How many characters before a finding are searched for context words."""

BOOST = 0.3
PENALTY = 0.45


def _words(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


POSITIVE: dict[str, re.Pattern[str]] = {
    "PHONE_NUMBER": _words(
        "tel", "mobil", "telefon", "ring", "nummer", "nr:", "sms", "växel", "phone", "call",
        "mob", "cell", "direkt", "fax", "kontakt", "contact", "nås på", "reach",
    ),
    "SE_PERSONNUMMER": _words(
        "personnummer", "personnr", "pnr", "pers.nr", "personnumret", "samordningsnummer",
        "födelsenummer", "personal identity", "ssn", "id-nummer", "personummer",
    ),
    "SE_ORGANISATIONSNUMMER": _words(
        "org", "organisationsnummer", "orgnr", "org.nr", "company", "företag", "ab ", "ab,",
        "momsreg", "vat", "registration", "bolag",
    ),
    "SE_BANKGIRO": _words("bankgiro", "bg", "bankgironummer", "bank giro"),
    "SE_PLUSGIRO": _words("plusgiro", "pg", "postgiro", "plusgironummer"),
    "CREDIT_CARD": _words("kort", "card", "visa", "mastercard", "amex", "betal", "payment"),
    "IBAN_CODE": _words("iban", "konto", "account", "bank"),
    "SE_LICENSE_PLATE": _words(
        "reg", "bil", "fordon", "plåt", "skylt", "plate", "vehicle", "car ", "servicebil",
        "van", "lastbil",
    ),
    "IP_ADDRESS": _words("ip", "adress", "address", "host", "klient", "client", "från"),
}  # fmt: skip

NEGATIVE: dict[str, re.Pattern[str]] = {
    "NUMBER": _words(
        "order", "serie", "serial", "s/n", "sn:", "sn ", "artikel", "art.nr", "artnr", "ärende",
        "case", "ticket", "faktura", "invoice", "ref", "version", "firmware", "fw", "felkod",
        "error", "kod", "code", "id:", "id ", "modell", "model", "batch", "lot", "imei",
        "mac", "kvitto", "receipt", "sek", "kr", "belopp", "amount", "summa", "pris",
        "price", "ocr", "produkt", "product", "best.nr", "beställning", "sku", "part", "del",
        "licens", "license key", "nyckel", "jobb", "job", "backup", "snapshot", "build",
        "sensor", "givare", "mätare", "enhet", "maskin", "gateway", "device", "unit", "tank",
    ),
    "SE_LICENSE_PLATE": _words(
        "felkod", "error", "kod", "code", "modell", "model", "typ", "art", "larm", "alarm",
        "firmware", "version", "sek", "eur", "usd",
    ),
    "IP_ADDRESS": _words("version", "firmware", "fw", "ver", "v.", "build", "release"),
}  # fmt: skip


def window(text: str, start: int, size: int = WINDOW) -> str:
    """The lower-cased text just before ``start``."""
    return text[max(0, start - size) : start].lower()


def has_positive(kind: str, text: str, start: int) -> bool:
    pattern = POSITIVE.get(kind)
    return pattern is not None and pattern.search(window(text, start)) is not None


def has_negative(kind: str, text: str, start: int, size: int = 24) -> bool:
    pattern = NEGATIVE.get(kind)
    return pattern is not None and pattern.search(window(text, start, size)) is not None


_WORD_END = re.compile(r"\w*")


def _last_end(pattern: re.Pattern[str] | None, window_text: str, whole_word: bool = False) -> int:
    """Where the last match ends (with ``whole_word``: where its word ends), or -1."""
    if pattern is None:
        return -1
    end = -1
    for m in pattern.finditer(window_text):
        end = m.end()
    if whole_word and end >= 0:
        tail = _WORD_END.match(window_text, end)
        end = tail.end() if tail else end
    return end


def polarity(kind: str, text: str, start: int, negative: str = "NUMBER") -> int:
    """+1 when the nearest context word before ``start`` is positive, -1 negative, 0 none.

    A negative stem counts to the end of its word, so "serienummer" is negative even
    though it ends in the positive "nummer".
    """
    win = window(text, start)
    pos = _last_end(POSITIVE.get(kind), win)
    neg = _last_end(NEGATIVE.get(negative), win[-24:], whole_word=True)
    if neg >= 0:
        neg += len(win) - len(win[-24:])
    if pos < 0 and neg < 0:
        return 0
    return 1 if pos > neg else -1
