"""Person names: an offline gazetteer of first and last names plus context.

The gazetteer (``data/names.tsv``) is loaded once into frozensets. A name is a
run of capitalised tokens separated by single spaces (or hyphens) in which a
known first name comes first; a full name ("Anna Lindqvist") is strong
evidence, a lone first name weak unless context backs it: a greeting or
signature ("Hej Anna", "Mvh Anna", "/Anna"), a role ("kontaktperson",
"tekniker", "kunden"), a title ("herr", "Dr"), a verb of speech after it
("Anna ringde"), or simply standing mid-sentence, where a capital letter in
Swedish marks a proper noun.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

from integritet.pii.detectors import Candidate

TOKEN_RE = re.compile(
    r"(?<![\w-])[A-ZÅÄÖÉÜØÆ][a-zåäöéüøæáíóúñçèëï]+(?:-[A-ZÅÄÖ][a-zåäöéü]+)?(?!\w)"
)

SURNAME_SUFFIXES = (
    "sson", "son", "sen", "berg", "ström", "strom", "qvist", "kvist", "lund", "gren", "din",
    "lin", "ander", "blom", "holm", "dahl", "fors", "stedt", "stad", "ling", "by", "bäck",
    "sjö", "löf", "ius", "ell", "borg", "näs", "nér", "éus", "hed", "vall", "mark", "ås",
)  # fmt: skip

# Capitalised words that the name statistics also list as names.
STOP = frozenset(
    """Hej Hejsan Hallå Tack Mvh Med Vänliga Hälsningar Kund Kunden Tekniker Larm Alarm Service
    Stockholm Göteborg Malmö Uppsala Sverige Norge Danmark Finland Europa Nord Syd Väst Öst
    Maj Juni Juli Augusti Mars April Januari Februari September Oktober November December
    Måndag Tisdag Onsdag Torsdag Fredag Lördag Söndag Idag Igår Imorgon Nu Ny Nya Gamla Stora
    Lilla Norra Södra Östra Västra Och Eller Men Som För Från Till Vid Kl Ok Okej Ja Nej
    Mark Per Bo Hans Sten Ros Viktor Love Ljung Dag Vilja Sol Lycka Tor Ring Ringde Bra Fin
    Major General Rose Will May June August Grant Bill Chase Hope Faith Dear Hello Hi Thanks
    The And For With From Monday Tuesday Friday Sunday Street Road Avenue Backup Server Support
    Ärende Order Faktura Kontakt Adress Telefon Mobil Email Mail Status Info Data Test Admin
    Volvo Scania Saab Ikea Telia Tele Telenor Microsoft Google Apple Loggamera Coffeecloud
    Viewmybox Paam Loop Box Station Kontor Lager Hall Hus Villa Port Dörr Entré Plan Våning
    Summa Pris Totalt Datum Tid Version Firmware Modell Serie Nummer Enhet Maskin Sensor
    Notering Anteckning Besök Åtgärd Fel Felkod Problem Lösning Klart Klar Bytt Kontrollerat
    Obs Viktigt Kommentar Samtal Mötet Möte Offert Avtal Kontrakt Företag Ab Hb Kb Inc Ltd
    Logg Jobb Körning Fullständig Inkrementell Återställning Kund-id Ticket Case Alarm-id
    Vatten Kaffe Temperatur Tryck Nivå Energi El Gas Värme Kyla Ventil Pump Filter Ström
    Berg Lund Holm Dahl Ek Björk Lind Strand Sand Skog Hav Sjö Fors Dal Vik Ås Mo Näs""".split()
)


# Capitalised words that never continue a name, even when the statistics list them.
NOT_SURNAME = frozenset(
    """Hej Tack Mvh Med Och Eller Men Som För Från Till Vid Kl Ok Ja Nej Idag Igår Imorgon
    Maj Juni Juli Augusti Mars April Måndag Tisdag Onsdag Torsdag Fredag Lördag Söndag
    Kund Kunden Tekniker Larm Alarm Service Ärende Order Faktura Kontakt Adress Telefon Mobil
    Email Mail Status The And For With From Dear Hello Hi Thanks AB Ab""".split()
)


# First names that are also common words ("per" = each, "hans" = his): names only
# when a surname follows.
AMBIGUOUS = frozenset("Per Hans Bo Mark Sten Viktor Love Dag Tor Maj Ros Sol Vilja Lycka".split())


@cache
def gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names), loaded once from the packaged list."""
    first: set[str] = set()
    last: set[str] = set()
    text = files("integritet.pii").joinpath("data/names.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, kind = line.partition("\t")
        if kind in ("F", "B"):
            first.add(name)
        if kind in ("L", "B"):
            last.add(name)
    return frozenset(first - STOP), frozenset(last)


BEFORE_RE = re.compile(
    r"(?:hej|hejsan|hallå|hälsningar|mvh|vh|/|kontaktperson|kontakt|tekniker|teknikern|kund|"
    r"kunden|kundens|ring|ringde|ringer|talat med|pratat med|enligt|från|till|med|av|"
    r"herr|fru|dr|dear|hi|hello|regards|contact|technician|customer|by|mr|mrs|ms|"
    r"ansvarig|chef|säljare|handläggare|signerat|attest|godkänd av|namn|name|"
    r"installatör|montör|ägare|hyresgäst|boende|användare|user|för|åt|cc|att|attn)"
    r"[\s:,.-]*$"
)  # fmt: skip
AFTER_RE = re.compile(
    r"^(?:\s(?:ringde|ringer|har|hade|skrev|meddelade|säger|sa|vill|kommer|var|är|tar|"
    r"called|said|says|wrote|will|is|was|has)\b|,\s|\s\()"
)  # fmt: skip
TITLES = ("herr ", "fru ", "dr ", "dr. ", "mr ", "mr. ", "mrs ", "mrs. ", "ms ", "ms. ")


def _first_of_full_name(
    text: str, tokens: list[tuple[int, int, str]], i: int, last: frozenset[str]
) -> bool:
    """An unknown or ambiguous first name ("Per", "Wilma") right before a listed surname."""
    word = tokens[i][2]
    if word in NOT_SURNAME or (word in STOP and word not in AMBIGUOUS) or i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    first, _ = gazetteer()
    return (
        text[tokens[i][1] : nxt[0]] == " "
        and nxt[2] in last
        and (nxt[2] not in first or nxt[2].lower().endswith(SURNAME_SUFFIXES))
        and nxt[2] not in NOT_SURNAME
    )


def _is_surname(token: str, last: frozenset[str]) -> bool:
    if token in last:
        return True
    base = token.rsplit("-", 1)[-1].lower()
    return base.endswith(SURNAME_SUFFIXES) and token not in STOP


def _sentence_start(text: str, start: int) -> bool:
    before = text[max(0, start - 3) : start].rstrip(" \t\"'(")
    return not before or before[-1] in ".!?:\n"


def persons(text: str, out: list[Candidate]) -> None:
    """Append PERSON candidates found in ``text``."""
    first, last = gazetteer()
    tokens = [(m.start(), m.end(), m.group()) for m in TOKEN_RE.finditer(text)]
    i, n = 0, len(tokens)
    while i < n:
        start, end, word = tokens[i]
        head = word.split("-", 1)[0]
        titled = text[max(0, start - 5) : start].lower().endswith(TITLES)
        if head not in first and not (titled and _is_surname(word, last)):
            if not _first_of_full_name(text, tokens, i, last):
                i += 1
                continue
        j = i + 1
        parts = 1
        has_last = titled
        while j < n and parts < 4 and text[tokens[j - 1][1] : tokens[j][0]] == " ":
            nxt = tokens[j][2]
            if nxt in NOT_SURNAME:
                break
            if _is_surname(nxt, last):
                has_last = True
            elif nxt not in first or nxt in STOP:
                break
            end = tokens[j][1]
            parts += 1
            j += 1
        out.append(("PERSON", start, end, _person_score(text, start, end, parts, has_last)))
        i = j


def _person_score(text: str, start: int, end: int, parts: int, has_last: bool) -> float:
    before = text[max(0, start - 24) : start].lower()
    context = BEFORE_RE.search(before) is not None or AFTER_RE.match(text[end : end + 12])
    if parts >= 2 and has_last:
        return 0.95 if context else 0.85
    if parts >= 2:
        return 0.8 if context else 0.6
    if context:
        return 0.75
    if has_last:  # a title and a surname: "herr Lindqvist"
        return 0.8
    return 0.35 if _sentence_start(text, start) else 0.55
