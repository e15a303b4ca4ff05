# ruff: noqa: E501  (corpus templates read best one per line)
"""Templates for the generated corpus, per service domain, and hard-negative fillers.

``{TYPE}`` slots become labelled entities; ``{SERIAL}``, ``{ORDER}``... become
unlabelled hard negatives (numbers that look like personal data but are not).
The third element of a template marks it held-out only (never seen in tuning).
"""

from __future__ import annotations

import random


def _d(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(n))


HARD_NEGATIVES = {
    "SERIAL": lambda r: r.choice([f"SN {_hex(r, 4)}-{_d(r, 4)}-{_d(r, 2)}", f"{_d(r, 8)}", f"LG{_d(r, 7)}", f"{_d(r, 4)}-{_d(r, 4)}-{_d(r, 4)}"]),
    "ORDER": lambda r: r.choice([f"{_d(r, 7)}", f"{_d(r, 4)}-{_d(r, 4)}", f"#{_d(r, 6)}", f"PO-{_d(r, 5)}"]),
    "DATE": lambda r: r.choice([f"20{r.randint(18, 26)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}", f"{r.randint(1, 28)}/{r.randint(1, 12)}", f"{r.randint(1, 28)} mars 2025", f"20{r.randint(18, 26)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"]),
    "TIME": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
    "AMOUNT": lambda r: r.choice([f"{r.randint(1, 99)} {_d(r, 3)} kr", f"{r.randint(100, 9999)},00 SEK", f"{r.randint(1, 999)} EUR", f"{r.randint(1, 50)} {_d(r, 3)}:-"]),
    "FW": lambda r: r.choice([f"v{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}", f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}.{r.randint(0, 999)}", f"{r.randint(1, 5)}.{r.randint(0, 9)}"]),
    "MAC": lambda r: ":".join(_hex(r, 2) for _ in range(6)),
    "ERR": lambda r: r.choice([f"E{_d(r, 4)}", f"ERR-{_d(r, 3)}", f"0x{_hex(r, 4)}", f"F{_d(r, 2)}", f"{_d(r, 3)}"]),
    "CASE": lambda r: r.choice([f"{_d(r, 8)}-{_d(r, 4)}", f"INC{_d(r, 7)}", f"{_d(r, 6)}"]),
    "SIZE": lambda r: f"{r.randint(1, 999)},{r.randint(0, 9)} {r.choice(['GB', 'TB', 'MB'])}",
    "TEMP": lambda r: f"{r.randint(-20, 99)},{r.randint(0, 9)} °C",
    "MODEL": lambda r: r.choice([f"LGM-{_d(r, 3)}", f"CX{_d(r, 4)}", f"Modell {r.choice('ABCDEFGH')}{_d(r, 3)}", f"AXE {_d(r, 3)}"]),
    "PCT": lambda r: f"{r.randint(0, 100)} %",
}  # fmt: skip

T = False
H = True  # held-out only
TEMPLATES: list[tuple[str, bool, str]] = [
    # technician notes (Loggamera, CoffeeCloud)
    ("technician", T, "Besök {DATE}. Bytt sensor {SERIAL} i undercentralen. Kontaktperson {PERSON} ({PHONE_NUMBER}) var på plats."),
    ("technician", T, "Tekniker {PERSON} åtgärdade felkod {ERR} på maskin {SERIAL}, firmware uppdaterad till {FW}."),
    ("technician", T, "Kunden {PERSON} på {ADDRESS} vill bli uppringd på {PHONE_NUMBER} innan nästa besök."),
    ("technician", T, "Kom med servicebil {SE_LICENSE_PLATE} kl {TIME}. Pumpen visade {TEMP}, tryck ok."),
    ("technician", H, "Nyckel hämtas hos {PERSON}, {ADDRESS}. Portkod finns i ärende {CASE}. Ring {PHONE_NUMBER} vid problem."),
    ("technician", T, "Mätare {SERIAL} avläst {DATE}, förbrukning {PCT} över normalt. Ingen åtgärd."),
    ("technician", H, "Hej {FIRST}! Jag har bytt filter på {MODEL} och kontrollerat {MAC}. /{FIRST}"),
    ("technician", T, "Installation klar på {ADDRESS}. Ansvarig hos kunden: {PERSON}, {EMAIL_ADDRESS}."),
    # alarms (Loggamera, CoffeeCloud)
    ("alarm", T, "LARM {DATE} {TIME}: temperatur {TEMP} på enhet {SERIAL}. Avisering skickad till {PHONE_NUMBER}."),
    ("alarm", T, "Alarm {ERR} från {MODEL} (fw {FW}). Jour: {PERSON}, mobil {PHONE_NUMBER}."),
    ("alarm", H, "Larm kvitterat av {PERSON} {TIME}. Orsak: {ERR}, givare {MAC}."),
    ("alarm", T, "Kritiskt larm på gateway {IP_ADDRESS}, felkod {ERR}, senaste kontakt {DATE} {TIME}."),
    ("alarm", H, "SMS till {PHONE_NUMBER}: Larm nivå {PCT} i tank {SERIAL}. Svara OK för att kvittera."),
    # support tickets (ViewMyBox, PAAM)
    ("support", T, "Ärende {CASE}: {PERSON} ({EMAIL_ADDRESS}) kan inte logga in sedan {DATE}. Inloggning från {IP_ADDRESS}."),
    ("support", T, "Hej! Jag heter {PERSON} och mitt personnummer är {SE_PERSONNUMMER}. Min faktura {ORDER} på {AMOUNT} är fel."),
    ("support", T, "Kunden betalade med kort {CREDIT_CARD} men ordern {ORDER} syns inte. Belopp {AMOUNT}."),
    ("support", H, "Återbetalning till {IBAN_CODE}, kontohavare {PERSON}. Ordernummer {ORDER}, belopp {AMOUNT}."),
    ("support", T, "Hej, vi ({SE_ORGANISATIONSNUMMER}) vill ändra fakturaadress till {ADDRESS}. Mvh {PERSON}"),
    ("support", H, "Betala till bankgiro {SE_BANKGIRO} eller plusgiro {SE_PLUSGIRO}, ange OCR {ORDER}."),
    ("support", T, "Customer {PERSON} ({EMAIL_ADDRESS}, {PHONE_NUMBER}) reports error {ERR} since version {FW}."),
    ("support", T, "Bankgiro {SE_BANKGIRO} stämmer inte med fakturan {ORDER}. Kontakta {EMAIL_ADDRESS}."),
    ("support", H, "Samordningsnummer {SE_PERSONNUMMER} registrerat för {PERSON}, modell {MODEL}."),
    # backup logs (Loop Backup)
    ("backup", T, "{DATE} {TIME} INFO job {ORDER} completed: {SIZE} copied from {IP_ADDRESS}, snapshot {SERIAL}."),
    ("backup", T, "{DATE} {TIME} WARN user {EMAIL_ADDRESS} restored /home/docs ({SIZE}) to host {IP_ADDRESS}."),
    ("backup", H, "{DATE} {TIME} ERROR {ERR} backup of client {IP_ADDRESS} failed after {PCT}; owner {EMAIL_ADDRESS}."),
    ("backup", T, "Backupjobb {ORDER} klart {TIME}, {SIZE} totalt, checksumma {SERIAL}, agent {FW}."),
    ("backup", H, "{DATE} {TIME} INFO file 'kunder_{DATE}.csv' ({SIZE}) contains column personnummer; sample {SE_PERSONNUMMER}."),
    # CRM notes (PAAM, CoffeeCloud, ViewMyBox)
    ("crm", T, "Möte med {PERSON} på {SE_ORGANISATIONSNUMMER}. Offert {ORDER} på {AMOUNT}. Uppföljning {DATE}."),
    ("crm", T, "Ny kontaktperson: {PERSON}, tel {PHONE_NUMBER}, e-post {EMAIL_ADDRESS}."),
    ("crm", T, "Leverans till {ADDRESS}, att: {PERSON}. Artikel {MODEL}, antal {PCT}."),
    ("crm", H, "Ring {PERSON} på {PHONE_NUMBER} angående avtal {CASE}, värde {AMOUNT}."),
    ("crm", T, "Företaget har organisationsnummer {SE_ORGANISATIONSNUMMER} och betalar via bankgiro {SE_BANKGIRO}."),
    ("crm", H, "Kundens firmabil {SE_LICENSE_PLATE} står vid {ADDRESS}. Kontakt {PERSON}."),
    ("crm", T, "Fakturera {SE_ORGANISATIONSNUMMER}, IBAN {IBAN_CODE}, referens {PERSON}."),
    ("crm", T, "Uppdatering {DATE}: {PERSON} har slutat, ersätts av {PERSON}. Direktnummer {PHONE_NUMBER}."),
    # hard negatives only
    ("technician", T, "Ingen personal på plats. Enhet {SERIAL}, fw {FW}, MAC {MAC}, temp {TEMP}, felkod {ERR}."),
    ("backup", T, "{DATE} {TIME} INFO job {ORDER} retention purge removed {SIZE}, {PCT} of quota, build {FW}."),
    ("support", H, "Order {ORDER} skickad {DATE}, {AMOUNT} inkl moms, serienummer {SERIAL}, modell {MODEL}."),
    ("alarm", T, "Status {DATE} {TIME}: {MODEL} nivå {PCT}, temperatur {TEMP}, kod {ERR}, artikel {ORDER}."),
]  # fmt: skip
