# ruff: noqa: E501  (name lists read best as written)
"""Generate the templated part of the labelled Swedish PII corpus (``templated.jsonl``).

Deterministic (seeded ``random.Random``): ``python tests/pii/corpus/generate.py``
rewrites the same file. Names come from the hand-picked lists below (common
Swedish names and names common among people living in Sweden), written for this
corpus: not from the detector's gazetteer and not from Faker. Identifiers are
generated valid (check digits, dates) by code written independently of the
detectors. A third of the templates are used only in the held-out split.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from templates import HARD_NEGATIVES, TEMPLATES  # type: ignore[import-not-found]

FIRST = """Anna Eva Maria Karin Sara Lena Kerstin Emma Ingrid Marie Malin Jenny Hanna Linnea Sofia
Annika Susanne Elin Ida Johanna Camilla Monica Ulla Birgitta Helena Josefin Åsa Frida Moa Ebba
Lars Mikael Anders Johan Erik Per Karl Peter Thomas Jan Daniel Fredrik Hans Stefan Mats Magnus
Mattias Andreas Jonas Niklas Oskar Henrik Bengt Göran Leif Björn Patrik Martin Sven Gustav Nils
Ali Mohammed Ahmed Fatima Yusuf Leyla Omar Amir Zeynep Hassan Nadia Dragan Mirela Tomasz Olga
Aino Mikko Jussi Ingvar Gunnel Sture Rut Agneta Kjell Torbjörn Pia Tove Alva Vera Wilma Elsa""".split()
LAST = """Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson
Pettersson Jonsson Jansson Hansson Bengtsson Jönsson Lindberg Jakobsson Magnusson Olofsson
Lindström Lindqvist Lindgren Axelsson Berg Bergström Lundberg Lind Lundgren Lundqvist Mattsson
Berglund Fredriksson Sandberg Henriksson Forsberg Sjöberg Wallin Engström Eklund Danielsson
Lundin Håkansson Björk Bergman Gunnarsson Holm Wikström Samuelsson Isaksson Fransson Bergqvist
Nyström Holmberg Arvidsson Löfgren Söderberg Nyberg Blomqvist Claesson Nordström Mårtensson
Ali Mohammed Hassan Ahmed Yilmaz Nguyen Kaya Novak Kowalski Virtanen Korhonen Hussein Abdi
Ek Strand Dahl Öberg Hedlund Sundberg Åberg Ekström Holmgren Hedberg Sundström Åström""".split()
STREETS = [
    "Storgatan",
    "Kungsgatan",
    "Drottninggatan",
    "Sveavägen",
    "Vasagatan",
    "Järnvägsgatan",
    "Skolgatan",
    "Kyrkogatan",
    "Industrivägen",
    "Parkvägen",
    "Ringvägen",
    "Skogsvägen",
    "Björkvägen",
    "Ekvägen",
    "Stationsvägen",
    "Hamngatan",
    "Östra Hamngatan",
    "Norra Vallgatan",
    "Södra Förstadsgatan",
    "Västra Långgatan",
    "Lilla Torget",
    "Bäckvägen",
    "Tallstigen",
    "Granvägen",
    "Bruksgatan",
    "Fabriksgatan",
    "Mölndalsvägen",
    "Linnégatan",
    "Odengatan",
    "Götgatan",
    "Hornsgatan",
    "Tegnérgatan",
    "Tullgränd",
    "Kvarngränd",
    "Solbacken",
    "Hagalundsvägen",
    "Smedjegatan",
    "Nya Torget",
    "Gamla Kungsvägen",
    "Sjöviksvägen",
]
CITIES = """Stockholm Göteborg Malmö Uppsala Västerås Örebro Linköping Helsingborg Jönköping
Norrköping Lund Umeå Gävle Borås Södertälje Eskilstuna Halmstad Växjö Karlstad Sundsvall
Luleå Trollhättan Östersund Kalmar Falun Skövde Kiruna Visby Upplands Väsby""".split()
DOMAINS = [
    "exempel.se",
    "foretaget.se",
    "gmail.com",
    "outlook.com",
    "telia.com",
    "kund.nu",
    "bolaget.com",
]
PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUWXYZ"


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def personnummer(rng: random.Random) -> str:
    year = rng.randint(1930, 2006)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    if rng.random() < 0.12:
        day += 60  # samordningsnummer
    body = f"{year % 100:02d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
    body += luhn_digit(body)
    style = rng.random()
    if style < 0.5:
        return f"{body[:6]}-{body[6:]}"
    if style < 0.8:
        return f"{year // 100}{body[:6]}-{body[6:]}"
    if style < 0.95:
        return f"{year // 100}{body}"
    return f"{body[:6]}+{body[6:]}" if year < 1925 else f"{body[:6]}-{body[6:]}"


def orgnr(rng: random.Random) -> str:
    head = rng.choice(["556", "559", "802", "212", "969", "716"]) + f"{rng.randint(0, 999999):06d}"
    body = head + luhn_digit(head)
    return f"{body[:6]}-{body[6:]}" if rng.random() < 0.85 else f"16{body[:6]}-{body[6:]}"


def card(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.2:
        head = rng.choice(["34", "37"]) + "".join(rng.choice("0123456789") for _ in range(12))
        num = head + luhn_digit(head)
        return f"{num[:4]} {num[4:10]} {num[10:]}"
    prefix = "4" if kind < 0.6 else str(rng.randint(51, 55))
    head = prefix + "".join(rng.choice("0123456789") for _ in range(15 - len(prefix)))
    num = head + luhn_digit(head)
    sep = rng.choice([" ", "-", ""])
    return sep.join(num[i : i + 4] for i in range(0, 16, 4))


def iban(rng: random.Random) -> str:
    country, bban = rng.choice([("SE", 20), ("SE", 20), ("SE", 20), ("DE", 18), ("NO", 11)])
    digits = "".join(rng.choice("0123456789") for _ in range(bban))
    numeric = "".join(str(int(c, 36)) for c in digits + country + "00")
    value = f"{country}{98 - int(numeric) % 97:02d}{digits}"
    if rng.random() < 0.7:
        return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def bankgiro(rng: random.Random) -> str:
    head = f"{rng.randint(100000, 9999999):d}"[: rng.choice([6, 7])]
    num = head + luhn_digit(head)
    return f"{num[:-4]}-{num[-4:]}"


def plusgiro(rng: random.Random) -> str:
    head = f"{rng.randint(10000, 9999999)}"
    num = head + luhn_digit(head)
    if rng.random() < 0.5 and len(num) in (6, 7, 8):
        body = num[:-1]
        groups = [body[max(0, i - 2) : i] for i in range(len(body), 0, -2)][::-1]
        return " ".join(groups) + "-" + num[-1]
    return f"{num[:-1]}-{num[-1]}"


def phone(rng: random.Random) -> str:
    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    style = rng.randrange(9)
    mobile = "07" + rng.choice("02369")
    return [
        f"{mobile}-{d(3)} {d(2)} {d(2)}",
        f"{mobile}{d(7)}",
        f"{mobile} {d(3)} {d(2)} {d(2)}",
        f"+46 {mobile[1:]} {d(3)} {d(2)} {d(2)}",
        f"08-{d(3)} {d(3)} {d(2)}",
        f"0{rng.choice(['31', '40', '18', '90', '13'])}-{d(2)} {d(2)} {d(2)}",
        f"0{rng.choice(['470', '611', '920', '380'])}-{d(2)} {d(2)} {d(2)}",
        f"+46 (0){rng.choice(['8', '31'])} {d(3)} {d(2)} {d(2)}",
        f"+{rng.choice(['44', '49', '47', '358'])} {d(2)} {d(4)} {d(4)}",
    ][style]


def email(rng: random.Random) -> str:
    f = rng.choice(FIRST).lower().translate(str.maketrans("åäöé", "aaoe"))
    last = rng.choice(LAST).lower().translate(str.maketrans("åäöé", "aaoe"))
    local = rng.choice(
        [f"{f}.{last}", f"{f}{rng.randint(1, 99)}", f"{f[0]}{last}", "info", "support"]
    )
    return f"{local}@{rng.choice(DOMAINS)}"


def address(rng: random.Random) -> str:
    street = (
        f"{rng.choice(STREETS)} {rng.randint(1, 140)}{rng.choice(['', '', '', 'A', 'B', ' C'])}"
    )
    if rng.random() < 0.55:
        pc = f"{rng.randint(100, 989)} {rng.randint(10, 99)}"
        return f"{street}, {pc} {rng.choice(CITIES)}"
    return street


def plate(rng: random.Random) -> str:
    letters = "".join(rng.choice(PLATE_LETTERS) for _ in range(3))
    last = rng.choice("0123456789" + PLATE_LETTERS)
    return f"{letters}{rng.choice([' ', ''])}{rng.randint(10, 99)}{last}"


def ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.choice([rng.randint(1, 254), 10, 192, 172])) for _ in range(4))


def ip(rng: random.Random) -> str:
    if rng.random() < 0.75:
        return ipv4(rng)
    groups = [f"{rng.randint(0, 65535):x}" for _ in range(6)]
    if rng.random() < 0.5:
        return "2001:db8:" + ":".join(groups)
    return f"2001:db8:{groups[0]}:{groups[1]}::{groups[2]}"


def person(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.7:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if style < 0.8:
        return f"{rng.choice(FIRST)} {rng.choice(FIRST)} {rng.choice(LAST)}"
    return rng.choice(FIRST)


GENERATORS = {
    "PERSON": person, "FIRST": lambda r: r.choice(FIRST), "PHONE_NUMBER": phone,
    "EMAIL_ADDRESS": email, "SE_PERSONNUMMER": personnummer, "SE_ORGANISATIONSNUMMER": orgnr,
    "CREDIT_CARD": card, "IBAN_CODE": iban, "SE_BANKGIRO": bankgiro, "SE_PLUSGIRO": plusgiro,
    "ADDRESS": address, "SE_LICENSE_PLATE": plate, "IP_ADDRESS": ip,
}  # fmt: skip
SLOT = re.compile(r"\{([A-Z_]+)\}")


def fill(template: str, rng: random.Random) -> tuple[str, list[list[object]]]:
    parts: list[str] = []
    spans: list[list[object]] = []
    pos = length = 0
    for m in SLOT.finditer(template):
        parts.append(template[pos : m.start()])
        length += m.start() - pos
        kind = m.group(1)
        if kind in HARD_NEGATIVES:
            value = HARD_NEGATIVES[kind](rng)
        else:
            value = GENERATORS[kind](rng)
            label = "PERSON" if kind == "FIRST" else kind
            spans.append([label, length, length + len(value)])
        parts.append(value)
        length += len(value)
        pos = m.end()
    parts.append(template[pos:])
    return "".join(parts), spans


def build(per_template: int = 8) -> list[dict[str, object]]:
    rows = []
    for split, seed in (("tune", 7), ("heldout", 1009)):
        rng = random.Random(seed)
        for t_no, (domain, heldout_only, template) in enumerate(TEMPLATES):
            if heldout_only and split == "tune":
                continue
            for k in range(per_template):
                text, spans = fill(template, rng)
                rows.append(
                    {
                        "id": f"t-{split}-{domain}-{t_no}-{k}",
                        "split": split,
                        "text": text,
                        "spans": spans,
                    }
                )
    return rows


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("templated.jsonl"))
    rows = build()
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} documents -> {out}")
