"""The five example manifests load, pass `check`, and their rendered policies state every promise.

Each row is (service, promise id, language, fragment). A fragment is computed from the manifest
where the value lives there (names, durations, regions), so the test fails if the text drifts from
the manifest; the surrounding words are the renderer's own phrasing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from integritet.cli import app
from integritet.manifest import Manifest, load_manifest
from integritet.manifest.render import date_words, duration_words, render

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SERVICES = ["coffeecloud", "viewmybox", "loggamera", "loop-backup", "paam"]

Fragment = str | Callable[[Manifest], str]


def example_path(service: str) -> Path:
    return EXAMPLES / service / "policy.yaml"


@cache
def _manifest(service: str) -> Manifest:
    return load_manifest(example_path(service))


@cache
def _text(service: str, lang: str) -> str:
    return render(_manifest(service), lang, "md")  # type: ignore[arg-type]


def _words(service: str, rule: str, lang: str) -> str:
    rules = {r.id: r for r in _manifest(service).retention}
    return duration_words(rules[rule].duration, lang)  # type: ignore[arg-type]


def _recipient(service: str, rid: str) -> str:
    return _manifest(service).recipient(rid).name


PROMISES: list[tuple[str, str, str, Fragment]] = [
    # CoffeeCloud
    (
        "coffeecloud",
        "C1",
        "sv",
        "Uppgifterna kommer från din organisation, som är kund hos oss, "
        "våra återförsäljare och våra distributörer",
    ),
    ("coffeecloud", "C1", "en", "from the connected machines"),
    ("coffeecloud", "C2", "sv", "Från maskinerna samlar vi aldrig in kortnummer"),
    ("coffeecloud", "C2", "en", "We never collect payment card numbers"),
    ("coffeecloud", "C3", "sv", "Vi använder inte uppgifterna för något annat ändamål än dessa."),
    ("coffeecloud", "C3", "en", "We do not use the data for any other purpose than these."),
    ("coffeecloud", "C4", "sv", "bara de kunder och maskiner som personen själv är tilldelad"),
    ("coffeecloud", "C4", "en", "only the customers and machines assigned to them"),
    (
        "coffeecloud",
        "C5",
        "sv",
        lambda m: f"{m.recipient('authorities').name} får aldrig finansiell information",
    ),
    (
        "coffeecloud",
        "C5",
        "en",
        lambda m: f"{m.recipient('authorities').name} never receives financial information",
    ),
    ("coffeecloud", "C6", "sv", "krypterade med AES-256"),
    ("coffeecloud", "C6", "en", "encrypted with AES-256"),
    ("coffeecloud", "C6", "en", "ISO 27001"),
    (
        "coffeecloud",
        "C7",
        "sv",
        lambda m: f"Senast uppdaterad {date_words(m.policy.effective, 'sv')}",
    ),
    ("coffeecloud", "C7", "sv", "ber vi om ditt samtycke innan ändringen gäller dem"),
    ("coffeecloud", "C7", "en", "we ask for your consent before the change applies"),
    ("coffeecloud", "C8", "sv", lambda m: m.controller.email),
    ("coffeecloud", "C8", "en", lambda m: m.controller.email),
    # VIEWMYBOX
    ("viewmybox", "V1", "sv", "namn, adress, e-postadress och telefonnummer"),
    ("viewmybox", "V1", "en", "name, address, email address and phone number"),
    (
        "viewmybox",
        "V2",
        "sv",
        lambda m: (
            "Vi lagrar inga lösenord: du loggar in med ditt vanliga "
            f"konto hos {m.security.identity_provider.name}"
        ),
    ),  # type: ignore[union-attr]
    ("viewmybox", "V2", "en", "We store no passwords"),
    (
        "viewmybox",
        "V3",
        "sv",
        "IP-adress, webbläsarens version eller datorns operativsystem och "
        "datum och tid för registreringen",
    ),
    ("viewmybox", "V3", "en", "IP address, browser version or operating system"),
    (
        "viewmybox",
        "V4",
        "sv",
        "Du kan också själv ändra namn, adress, e-postadress och "
        "telefonnummer under Settings i VIEWMYBOX®",
    ),
    ("viewmybox", "V4", "en", "under Settings in VIEWMYBOX®"),
    ("viewmybox", "V5", "sv", "omfattas av den version av policyn som gällde när du lämnade dem"),
    ("viewmybox", "V5", "en", "governed by the version of this policy that was in force"),
    ("viewmybox", "V6", "sv", "tillhör dig, och du kan få ett utdrag av det"),
    ("viewmybox", "V6", "en", "belongs to you, and you can get an extract of it"),
    ("viewmybox", "V7", "sv", "Du kan när som helst logga ut, och då avslutas sessionen"),
    (
        "viewmybox",
        "V7",
        "en",
        lambda m: (
            f"after {duration_words(m.security.sessions.idle_timeout, 'en')} without activity"
        ),
    ),
    (
        "viewmybox",
        "V8",
        "sv",
        lambda m: f"{m.storage.locations[0].provider}, {m.storage.locations[0].region}, Sverige",
    ),
    ("viewmybox", "V8", "en", lambda m: f"{m.storage.locations[0].region}, Sweden"),
    # Loggamera
    ("loggamera", "L1", "sv", "Vi samlar inte in fler personuppgifter än vad som behövs"),
    ("loggamera", "L1", "en", "We collect no more personal data than we need"),
    ("loggamera", "L2", "sv", "hjälper vår kundtjänst dig att ta bort uppgiften"),
    ("loggamera", "L2", "en", "our support team will help you remove it"),
    (
        "loggamera",
        "L3",
        "sv",
        lambda m: (
            "tills du avregistrerar dig, dock högst "
            f"{_words('loggamera', 'three-years-after-login', 'sv')} efter din senaste inloggning"
        ),
    ),
    (
        "loggamera",
        "L3",
        "en",
        lambda m: (
            "until you deregister, but no longer than "
            f"{_words('loggamera', 'three-years-after-login', 'en')} after your last sign-in"
        ),
    ),
    ("loggamera", "L4", "sv", "Innan vi raderar något kontaktar vi dig och bekräftar din begäran"),
    ("loggamera", "L4", "sv", lambda m: f"{m.hold('bokforing').basis.sv}"),
    ("loggamera", "L4", "en", "Sales transactions that the law requires us to keep"),
    ("loggamera", "L5", "sv", "Du får alltid veta mottagarens namn innan uppgifterna lämnas ut"),
    ("loggamera", "L5", "en", "You are always told the recipient's name before the data is shared"),
    (
        "loggamera",
        "L6",
        "sv",
        lambda m: (
            "ser vi till att uppgifterna raderas även hos "
            f"{m.recipients[0].name}, Visma SPCS, PayPal och Mailchimp"
        ),
    ),
    (
        "loggamera",
        "L6",
        "en",
        lambda m: f"{_recipient('loggamera', 'mailchimp')} receives name and contact details",
    ),
    (
        "loggamera",
        "L7",
        "sv",
        "Utöver mottagarna ovan lämnar vi inte ut dina personuppgifter till "
        "någon annan utan ditt samtycke",
    ),
    ("loggamera", "L7", "en", "This happens only if you have consented to newsletter"),
    (
        "loggamera",
        "L8",
        "sv",
        lambda m: (
            f"Loggfiler med inloggnings- och åtkomstloggar sparar vi i "
            f"högst {duration_words(m.log_sources[0].retention, 'sv')}, samma maxtid som för "
            "uppgifterna i våra databaser"
        ),
    ),
    ("loggamera", "L8", "en", lambda m: f"{m.storage.locations[0].provider}, Stockholm, Sweden"),
    ("loggamera", "L9", "sv", "Status för dina övervakningar**, via e-post, sms eller telefon"),
    ("loggamera", "L9", "sv", "för varje kanal, på inställningssidan i webbportalen"),
    ("loggamera", "L9", "en", "Newsletter**, by email, text message or phone"),
    ("loggamera", "L10", "sv", "Kakan är anonym och innehåller inga personuppgifter"),
    ("loggamera", "L10", "en", "keeps you signed in"),
    ("loggamera", "L11", "sv", "är en uppgift om dig fel rättar vi den när du ber om det"),
    ("loggamera", "L11", "en", "we correct it when you ask"),
    ("loggamera", "L12", "sv", "Alla ändringar publiceras på den här sidan"),
    ("loggamera", "L12", "en", "All changes are published on this page"),
    # Loop Backup
    ("loop-backup", "J1", "sv", "förnamn, efternamn, företagets postadress och e-postadress"),
    ("loop-backup", "J1", "sv", "Lösenord sparar vi bara som ett saltat hashvärde"),
    ("loop-backup", "J1", "en", "We store passwords only as a salted hash"),
    ("loop-backup", "J2", "sv", "Innehållet kan innehålla personuppgifter"),
    ("loop-backup", "J2", "en", "The content may include personal data"),
    (
        "loop-backup",
        "J3",
        "sv",
        "datum och tider för sessioner, enhetens IP-adress, webbläsartyp och enhetsnamn eller id",
    ),
    ("loop-backup", "J3", "en", "device IP address, browser type"),
    ("loop-backup", "J4", "sv", "identifierar din session och lagrar inga personuppgifter"),
    ("loop-backup", "J4", "en", "identifies your session and stores no personal data"),
    ("loop-backup", "J5", "sv", "Produktnyheter skickar vi via e-post till dig som redan är kund"),
    ("loop-backup", "J5", "en", "Providing the service"),
    ("loop-backup", "J6", "sv", "när lag, domstolsbeslut eller annat rättsligt förfarande kräver"),
    ("loop-backup", "J6", "en", "only when the law, a court order or other legal process requires"),
    ("loop-backup", "J7", "sv", "får bara använda uppgifterna för att utföra sina tjänster åt oss"),
    ("loop-backup", "J7", "en", "may use the data only to provide their services to us"),
    ("loop-backup", "J8", "sv", "med stöd av EU-kommissionens standardavtalsklausuler"),
    (
        "loop-backup",
        "J8",
        "en",
        "on the basis of an adequacy decision of the European Commission "
        "(EU-US Data Privacy Framework)",
    ),
    ("loop-backup", "J9", "sv", "Rätt till tillgång"),
    ("loop-backup", "J9", "en", "you can ask us to restrict the processing"),
    ("loop-backup", "J10", "sv", "krypteras med TLS 1.2"),
    ("loop-backup", "J10", "en", "encrypted with AES-256"),
    (
        "loop-backup",
        "J11",
        "sv",
        "För säkerhetskopierat innehåll är vi i stället personuppgiftsbiträde",
    ),
    ("loop-backup", "J11", "en", "We are the controller of account details"),
    (
        "loop-backup",
        "J12",
        "sv",
        lambda m: (
            "Vi anlitar sju underbiträden: "
            + ", ".join([r.name for r in m.recipients if r.role == "sub_processor"][:-1])
            + " och Zoom"
        ),
    ),
    ("loop-backup", "J12", "en", "We use seven sub-processors: PayPal, GoCardless"),
    ("loop-backup", "J13", "sv", "Vi sparar säkerhetskopierat innehåll tills abonnemanget upphör"),
    ("loop-backup", "J13", "en", "We keep backed-up content until the subscription ends"),
    ("loop-backup", "J14", "sv", "Som kund väljer du själv var era uppgifter ska lagras"),
    ("loop-backup", "J14", "en", lambda m: f"{m.storage.locations[1].region}, Finland"),
    ("loop-backup", "J15", "sv", "Vi svarar inom en månad"),
    ("loop-backup", "J15", "en", "We reply within one month"),
    ("loop-backup", "J16", "sv", "som kund kan du hämta loggen"),
    ("loop-backup", "J16", "en", "as a customer you can retrieve the log"),
    (
        "loop-backup",
        "J17",
        "sv",
        lambda m: f"Vi har ett dataskyddsombud som du når på [{m.controller.dpo.email}]",
    ),  # type: ignore[union-attr]
    ("loop-backup", "J17", "en", "We have a data protection officer"),
    ("loop-backup", "J18", "sv", "Du kan när som helst tacka nej"),
    ("loop-backup", "J18", "en", "You can opt out at any time"),
    # PAAM
    ("paam", "P1", "sv", "namn, företagsadress, e-postadress, telefonnummer, befattning"),
    ("paam", "P1", "en", "Billing details"),
    (
        "paam",
        "P2",
        "sv",
        lambda m: (
            "IP-adresser i loggarna sparar vi bara i "
            f"{duration_words(m.log_sources[0].ip_retention, 'sv')}"
        ),
    ),  # type: ignore[arg-type]
    ("paam", "P2", "en", "to protect the service against attacks and intrusion"),
    ("paam", "P3", "sv", "Hos oss får var och en bara se de uppgifter som rollen kräver"),
    ("paam", "P3", "sv", lambda m: f"minst {m.security.password_policy.min_length} tecken"),
    ("paam", "P3", "en", "Our staff sign in with multi-factor authentication"),
    ("paam", "P4", "sv", "tills avtalet upphör. Därefter anonymiserar vi dem"),
    ("paam", "P4", "en", "until the contract ends. After that we anonymise the data"),
    (
        "paam",
        "P5",
        "sv",
        "För personuppgifter i våra produkter är vi i stället personuppgiftsbiträde",
    ),
    ("paam", "P5", "en", "we are a processor instead"),
    ("paam", "P6", "sv", "Vi lämnar bara ut personuppgifter till de mottagare som står här"),
    ("paam", "P6", "en", lambda m: f"{m.recipient('carrier').name}** (independent controller"),
    ("paam", "P7", "sv", "du har rätt att få veta vilka personuppgifter vi har om dig"),
    ("paam", "P7", "en", "you have the right to know what personal data we hold about you"),
    ("paam", "P8", "sv", "Rättelse"),
    ("paam", "P8", "en", "Rectification"),
    (
        "paam",
        "P9",
        "sv",
        "Då lagrar vi bara uppgifterna och stoppar all annan behandling, även "
        "leveransen av tjänsten",
    ),
    ("paam", "P9", "en", "We then only store the data and stop all other processing"),
    (
        "paam",
        "P10",
        "sv",
        "med stöd av ditt samtycke eller avtal får du ut i ett maskinläsbart format",
    ),
    ("paam", "P10", "en", "in a machine-readable format"),
    (
        "paam",
        "P11",
        "sv",
        "utom uppgifter som vi enligt lag måste spara, uppgifter som behövs för "
        "att fastställa, göra gällande eller försvara rättsliga anspråk och uppgifter som "
        "behövs för ett avtal som fortfarande gäller",
    ),
    ("paam", "P11", "sv", "kontrollerar vi din identitet med en kontroll som vår personal gör"),
    ("paam", "P11", "en", "if you object to direct marketing"),
    ("paam", "P12", "sv", "Vid större förändringar meddelar vi dig via e-post"),
    ("paam", "P12", "en", "We notify you by email of major changes"),
]


def test_every_seed_promise_has_a_row_in_both_languages() -> None:
    rows = {(service, pid, lang) for service, pid, lang, _ in PROMISES}
    counts = {"coffeecloud": ("C", 8), "viewmybox": ("V", 8), "loggamera": ("L", 12),
              "loop-backup": ("J", 18), "paam": ("P", 12)}  # fmt: skip
    for service, (prefix, count) in counts.items():
        for n in range(1, count + 1):
            for lang in ("sv", "en"):
                assert (service, f"{prefix}{n}", lang) in rows, (service, n, lang)


@pytest.mark.parametrize(
    ("service", "promise", "lang", "fragment"),
    PROMISES,
    ids=[f"{s}-{p}-{lang}-{i}" for i, (s, p, lang, _) in enumerate(PROMISES)],
)
def test_rendered_policy_states_promise(
    service: str, promise: str, lang: str, fragment: Fragment
) -> None:
    expected = fragment(_manifest(service)) if callable(fragment) else fragment
    assert expected in _text(service, lang), f"{service} {promise} ({lang}): {expected!r}"


@pytest.mark.parametrize("service", SERVICES)
def test_example_passes_check(service: str) -> None:
    result = CliRunner().invoke(app, ["check", str(example_path(service))])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


@pytest.mark.parametrize("service", SERVICES)
def test_example_renders_every_format(service: str) -> None:
    manifest = _manifest(service)
    for lang in ("sv", "en"):
        page = render(manifest, lang, "html")  # type: ignore[arg-type]
        assert f'<html lang="{lang}">' in page
        assert manifest.controller.name in page


def test_original_privacy_shield_claim_is_rejected() -> None:
    original = EXAMPLES / "loop-backup" / "original-privacy-shield.yaml"
    result = CliRunner().invoke(app, ["check", str(original)])
    assert result.exit_code == 1
    assert "Privacy Shield" in result.output
    assert "2020-07-16" in result.output
