"""Pattern detectors for identifiers, contact details and addresses.

Each detector is one compiled regular expression, run only when a cheap
prefilter (a character the match must contain) says it can match. Check
digits and dates (:mod:`integritet.pii.validators`) run only on candidates.
A detector appends ``(type, start, end, score)`` tuples to a list; nothing is
allocated per document beyond that list.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from integritet.pii import validators
from integritet.pii.context import BOOST, PENALTY, has_negative, has_positive, polarity

Candidate = tuple[str, int, int, float]
Detector = Callable[[str, list[Candidate]], None]

_END = r"(?![\w-]|[.,:/]\d)"  # a number ends here: not glued to more digits or letters

ID_RE = re.compile(r"(?<![\w+\-/.,:])((?:19|20|16)?\d{6})([-+]?)(\d{4})" + _END)
CARD_RE = re.compile(
    r"(?<![\w\-+.,])(?:(?:\d{4}[ -]){3}\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5}|\d{13,19})" + _END
)
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
BANKGIRO_RE = re.compile(r"(?<![\w\-+.,/])\d{3,4}-\d{4}" + _END)
PLUSGIRO_RE = re.compile(r"(?<![\w\-+.,/])(?:\d{1,3}(?: \d{2}){1,3}|\d{1,7})-\d" + _END)
SE_PHONE_RE = re.compile(
    r"(?<![\w+\-/.,:])(?:\(0\d{1,3}\)|0[1-9]\d{0,2})(?: - |[- ])?\d{2,4}(?:[ -]?\d{2,4}){0,3}"
    + _END
)
INTL_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ -]?\(0\))?(?:[ -]?\d{1,4}){2,5}" + _END
)
IPV4_RE = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w]|\.\d)"
)
IPV6_RE = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}(?![\w-])")
_PLATE_LETTERS = "A-HJ-PR-UW-Z"
PLATE_RE = re.compile(rf"(?<![\w-])([{_PLATE_LETTERS}]{{3}}) ?\d{{2}}[{_PLATE_LETTERS}\d](?![\w-])")
PLATE_STOP = frozenset(
    "SEK EUR USD NOK DKK GBP CHF JPY ERR USB LTE DSL CPU RAM SSD HDD NAS VPN API LAN WAN TCP "
    "UDP SMS GSM PIN LED RPM KWH MWH GWH MHZ GHZ ACK NAK ISO DIN NFC SIM PDF CSV XML RAW ZIP "
    "TAR AES RSA SHA MAX MIN AVG TOT NET FEL NOT OBS TEL FAX ART REF NYA GPS PLC CAN BUS MOD "
    "DNS SSH FTP TLS SSL MAC CET UTC GMT EST PST KPA BAR PPM APP DOS WEB PRO".split()
)
_STREET = (
    "gatan|gata|vägen|väg|gränd|gränden|torget|torg|stigen|allén|allé|backen|backe|leden|"
    "stråket|platsen|plats|liden|slingan|gången|kajen|esplanaden|promenaden|höjden|udden|"
    "ringen|svängen|kroken|hagen|vallen|gärdet|parken|terrassen|branten|vik|viken"
)
_CITY = r"[A-ZÅÄÖ][a-zåäöé]+(?:[ -][A-ZÅÄÖ][a-zåäöé]+)?"
ADDRESS_RE = re.compile(
    r"(?<![\w-])(?:(?:Gamla|Nya|Norra|Södra|Östra|Västra|Stora|Lilla|Sankt|S:t|Övre|Nedre) )?"
    rf"(?:[A-ZÅÄÖ][a-zåäöéü]*(?:-[A-ZÅÄÖa-zåäö][a-zåäöéü]*)?(?:{_STREET})"
    r"|(?<=[a-z] )(?:Torget|Torg|Backen|Gränd|Allén|Hamnen))"
    r" \d{1,4}(?:-\d{1,4})?(?: ?[A-Ha-h](?![\w]))?"
    r"(?:,? (?:lgh\.?|lägenhet) ?\d{4})?"
    rf"(?P<post>,? (?:SE-)?\d{{3}} ?\d{{2}},? {_CITY})?"
)
BOX_RE = re.compile(rf"\b(?:Box|Postbox) \d{{1,5}},? (?:SE-)?\d{{3}} ?\d{{2}},? {_CITY}")


def _score(kind: str, base: float, text: str, start: int, boost: float = BOOST) -> float:
    """``base`` raised or lowered by the nearest context word before ``start``."""
    side = polarity(kind, text, start)
    if side > 0:
        return min(1.0, base + boost)
    if side < 0:
        return max(0.0, base - PENALTY)
    return base


def _ids(text: str, out: list[Candidate]) -> None:
    """Personnummer, samordningsnummer and organisationsnummer (10 or 12 digits)."""
    for m in ID_RE.finditer(text):
        head, sep, tail = m.group(1), m.group(2), m.group(3)
        digits = head + tail
        start = m.start()
        if validators.personnummer(digits, plus=sep == "+") and not head.startswith("16"):
            if not sep and digits.startswith("0") and has_positive("PHONE_NUMBER", text, start):
                continue
            base = 0.9 if sep or len(digits) == 12 else 0.6
            out.append(
                ("SE_PERSONNUMMER", start, m.end(), _score("SE_PERSONNUMMER", base, text, start))
            )
        elif sep != "+" and validators.organisationsnummer(digits):
            base = 0.85 if sep else 0.55
            out.append(
                ("SE_ORGANISATIONSNUMMER", start, m.end(),
                 _score("SE_ORGANISATIONSNUMMER", base, text, start))
            )  # fmt: skip


def _cards(text: str, out: list[Candidate]) -> None:
    for m in CARD_RE.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if validators.credit_card(digits):
            start = m.start()
            out.append(("CREDIT_CARD", start, m.end(), _score("CREDIT_CARD", 0.9, text, start)))


def _ibans(text: str, out: list[Candidate]) -> None:
    for m in IBAN_RE.finditer(text):
        value = m.group()
        # a trailing upper-case word may have been swallowed: drop groups until it checks
        while len(value) >= 15 and not validators.iban(value):
            value = value[: value.rfind(" ")] if " " in value else value[:-1]
        if len(value) >= 15:
            out.append(("IBAN_CODE", m.start(), m.start() + len(value), 1.0))


def _bankgiros(text: str, out: list[Candidate]) -> None:
    for m in BANKGIRO_RE.finditer(text):
        start = m.start()
        if validators.bankgiro(m.group().replace("-", "")):
            out.append(
                ("SE_BANKGIRO", start, m.end(), _score("SE_BANKGIRO", 0.4, text, start, 0.5))
            )


def _plusgiros(text: str, out: list[Candidate]) -> None:
    for m in PLUSGIRO_RE.finditer(text):
        start = m.start()
        digits = m.group().replace(" ", "").replace("-", "")
        if validators.plusgiro(digits) and has_positive("SE_PLUSGIRO", text, start):
            out.append(("SE_PLUSGIRO", start, m.end(), 0.85))


def _phones(text: str, out: list[Candidate]) -> None:
    for m in SE_PHONE_RE.finditer(text):
        raw = m.group()
        n = sum(ch.isdigit() for ch in raw)
        if not 8 <= n <= 10 or (raw.startswith("07") and n != 10):
            continue
        base = 0.7 if raw.startswith("07") else 0.6
        if raw.isdigit() and not (raw.startswith("07") and n == 10):
            base = 0.4  # bare digits: more likely an id than a phone number
        start = m.start()
        out.append(("PHONE_NUMBER", start, m.end(), _score("PHONE_NUMBER", base, text, start)))
    if "+" not in text and "00" not in text:
        return
    for m in INTL_PHONE_RE.finditer(text):
        raw = m.group().replace("(0)", "")
        n = sum(ch.isdigit() for ch in raw) - (2 if raw.startswith("00") else 0)
        if 8 <= n <= 15:
            start = m.start()
            out.append(("PHONE_NUMBER", start, m.end(), _score("PHONE_NUMBER", 0.7, text, start)))


def _ips(text: str, out: list[Candidate]) -> None:
    if "." in text:
        for m in IPV4_RE.finditer(text):
            start = m.start()
            if has_negative("IP_ADDRESS", text, start, 16):
                continue
            score = 0.95 if has_positive("IP_ADDRESS", text, start) else 0.85
            out.append(("IP_ADDRESS", start, m.end(), score))
    if "::" in text or text.count(":") >= 7:
        for m in IPV6_RE.finditer(text):
            try:
                ipaddress.IPv6Address(m.group())
            except ValueError:
                continue
            out.append(("IP_ADDRESS", m.start(), m.end(), 0.9))


def _emails(text: str, out: list[Candidate]) -> None:
    if "@" in text:
        for m in EMAIL_RE.finditer(text):
            out.append(("EMAIL_ADDRESS", m.start(), m.end(), 1.0))


def _plates(text: str, out: list[Candidate]) -> None:
    for m in PLATE_RE.finditer(text):
        start = m.start()
        if m.group(1) in PLATE_STOP:
            continue
        if has_positive("SE_LICENSE_PLATE", text, start):
            score = 0.9
        elif has_negative("SE_LICENSE_PLATE", text, start, 20):
            score = 0.2
        else:
            score = 0.45  # three letters and three digits are as often a model code
        out.append(("SE_LICENSE_PLATE", start, m.end(), score))


def _addresses(text: str, out: list[Candidate]) -> None:
    for m in ADDRESS_RE.finditer(text):
        out.append(("ADDRESS", m.start(), m.end(), 0.9 if m.group("post") else 0.8))
    if "Box" in text:
        for m in BOX_RE.finditer(text):
            out.append(("ADDRESS", m.start(), m.end(), 0.85))


DETECTORS: dict[Detector, frozenset[str]] = {
    _ids: frozenset({"SE_PERSONNUMMER", "SE_ORGANISATIONSNUMMER"}),
    _cards: frozenset({"CREDIT_CARD"}),
    _ibans: frozenset({"IBAN_CODE"}),
    _bankgiros: frozenset({"SE_BANKGIRO"}),
    _plusgiros: frozenset({"SE_PLUSGIRO"}),
    _phones: frozenset({"PHONE_NUMBER"}),
    _ips: frozenset({"IP_ADDRESS"}),
    _emails: frozenset({"EMAIL_ADDRESS"}),
    _plates: frozenset({"SE_LICENSE_PLATE"}),
    _addresses: frozenset({"ADDRESS"}),
}
"""Each pattern detector and the entity types it reports."""

NEEDS_DIGIT = frozenset(
    {_ids, _cards, _ibans, _bankgiros, _plusgiros, _phones, _ips, _plates, _addresses}
)


def _search(pattern: str) -> Callable[[str], object]:
    return re.compile(pattern).search


def _plusgiro_context(text: str) -> bool:
    low = text.lower()
    return "pg" in low or "plusgiro" in low or "postgiro" in low


def _ip_shape(text: str) -> bool:
    return _IPV4_SHAPE(text) is not None or "::" in text or text.count(":") >= 7


_IPV4_SHAPE = _search(r"\d\.\d{1,3}\.\d")

GATES: dict[Detector, Callable[[str], object]] = {
    _ids: _search(r"\d{6}"),
    _cards: _search(r"\d{4}(?:[ -]\d{4}|\d{9})"),
    _ibans: _search(r"[A-Z]{2}\d\d"),
    _bankgiros: _search(r"\d{3}-\d{4}"),
    _plusgiros: _plusgiro_context,  # its context word is required
    _phones: _search(r"\(0\d|0[1-9]|\+|00"),
    _ips: _ip_shape,
    _emails: lambda text: "@" in text,
    _plates: _search(r"[A-Z]{3} ?\d\d"),
    _addresses: _search(r"[adegknsté] \d|Box"),  # every street word ends in one of these
}
"""What each detector cannot find anything without, as one cheap test (falsy: skip it).

The detectors' patterns begin with a look-behind or an optional group, which keeps
``re`` from skipping ahead to where a match could start, so each costs a full scan
and more. A gate is a pattern that starts with a plain character class (which ``re``
skips to quickly) or a substring test. Gates only skip work: they are necessary
conditions, never a change in what is found (``tests/pii/test_detectors.py``).
"""
