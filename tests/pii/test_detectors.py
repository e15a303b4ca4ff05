"""Each entity type, context words (Swedish compounds included) and hard negatives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integritet.pii import ENTITY_TYPES, detect, redact
from integritet.pii.detectors import GATES, Candidate


def found(text: str) -> list[tuple[str, str]]:
    return [(e.type, e.text) for e in detect(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("mejla anna.berg@exempel.se idag", "EMAIL_ADDRESS", "anna.berg@exempel.se"),
        ("ring 070-123 45 67 efter lunch", "PHONE_NUMBER", "070-123 45 67"),
        ("växeln 08-123 456 78", "PHONE_NUMBER", "08-123 456 78"),
        ("nås på +46 70 123 45 67", "PHONE_NUMBER", "+46 70 123 45 67"),
        ("call +44 20 7946 0958", "PHONE_NUMBER", "+44 20 7946 0958"),
        ("inloggning från 83.233.144.17 kl 3", "IP_ADDRESS", "83.233.144.17"),
        ("klient 2001:db8:4a1::17 nekades", "IP_ADDRESS", "2001:db8:4a1::17"),
        ("kortet 4111 1111 1111 1111 nekades", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("IBAN SE45 5000 0000 0583 9825 7466 tack", "IBAN_CODE", "SE45 5000 0000 0583 9825 7466"),
        ("pnr 811218-9876", "SE_PERSONNUMMER", "811218-9876"),
        ("född 19811218-9876", "SE_PERSONNUMMER", "19811218-9876"),
        ("samordningsnummer 811278-9873", "SE_PERSONNUMMER", "811278-9873"),
        ("hundraåring 121212+1212", "SE_PERSONNUMMER", "121212+1212"),
        ("org.nr 556036-0793", "SE_ORGANISATIONSNUMMER", "556036-0793"),
        ("bankgiro 5050-1055", "SE_BANKGIRO", "5050-1055"),
        ("plusgiro 41 00 00-4", "SE_PLUSGIRO", "41 00 00-4"),
        ("bor på Storgatan 12B, 411 38 Göteborg nu", "ADDRESS", "Storgatan 12B, 411 38 Göteborg"),
        ("leverans till Östra Hamngatan 3", "ADDRESS", "Östra Hamngatan 3"),
        ("servicebil ABC 123 står ute", "SE_LICENSE_PLATE", "ABC 123"),
        ("Hej Anna Lindqvist, tack!", "PERSON", "Anna Lindqvist"),
    ],
)
def test_each_type(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)


def test_offsets_are_str_indices() -> None:
    text = "Åsa Öberg på Sjöviksvägen 4 mejlar åsa@exempel.se"
    for e in detect(text):
        assert text[e.start : e.end] == e.text
    assert {e.type for e in detect(text)} == {"PERSON", "ADDRESS", "EMAIL_ADDRESS"}


@pytest.mark.parametrize(
    "text",
    [
        "Firmware 2.4.1.0 uppdaterad, version v3.10.2",
        "Felkod E0042 och ERR-503 samt 0x1F4",
        "Order 1234567 och ordernr 5512-3341 levererad",
        "Serienummer SN 4A7F-2231-88, enhet 09319254",
        "Datum 2024-03-15 14:32:10 och 20240315",
        "Belopp 12 500 kr, 1 299,00 SEK",
        "MAC 00:1A:2B:3C:4D:5E och 3C:71:BF:0A:22:9E",
        "Temperatur 92,5 °C, tryck 2,4 bar, 98 %",
        "Ärende 20240611-0031 stängt",
        "Modell AXE 100 i lager",
        "Per timme kostar det 500 kr",
    ],
)
def test_hard_negatives_are_not_reported(text: str) -> None:
    assert detect(text) == []


@pytest.mark.parametrize("word", ["mobilnummer", "mobilnr", "telefonnummer", "tel"])
def test_swedish_compound_context_raises_phone_score(word: str) -> None:
    bare = detect("0701234567", min_score=0)[0].score
    with_context = detect(f"{word} 0701234567", min_score=0)[-1].score
    assert with_context > bare


def test_negative_context_lowers_score() -> None:
    assert found("ring 08-123 456 78")
    assert not found("serienummer 08-123 456 78")


def test_kontaktperson_context_makes_a_lone_first_name_a_person() -> None:
    assert ("PERSON", "Lisa") in found("Kontaktperson: Lisa, se ärendet")
    assert found("Sedan kom Lisa.") == [("PERSON", "Lisa")]  # mid-sentence proper noun
    assert found("Lisa.") == []  # sentence start, no context: too weak


def test_signatures_and_greetings() -> None:
    assert ("PERSON", "Erik") in found("Allt klart. Mvh /Erik")
    assert ("PERSON", "Maria") in found("Hej Maria! Larmet är kvitterat.")


def test_ambiguous_first_names_need_a_surname() -> None:
    assert found("Per timme: 500 kr") == []
    assert ("PERSON", "Per Persson") in found("Ny kontakt: Per Persson")


def test_entities_filter_and_unknown_type() -> None:
    text = "Anna Berg, anna@exempel.se"
    assert [e.type for e in detect(text, entities=["EMAIL_ADDRESS"])] == ["EMAIL_ADDRESS"]
    with pytest.raises(ValueError, match="unknown entity types"):
        detect(text, entities=["NOPE"])


def test_redact_replaces_each_finding_with_its_type() -> None:
    text = "Ring Anna Berg på 070-123 45 67."
    assert redact(text) == "Ring [PERSON] på [PHONE_NUMBER]."
    assert redact("inget här") == "inget här"
    assert redact("") == "" and detect("") == []


def _pnr(body9: str) -> str:
    total = 0
    for i, ch in enumerate(body9):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body9 + str((10 - total % 10) % 10)


@settings(max_examples=60, deadline=None)
@given(
    year=st.integers(0, 99), month=st.integers(1, 12), day=st.integers(1, 28),
    serial=st.integers(0, 999), sep=st.sampled_from(["-", ""]),
)  # fmt: skip
def test_generated_personnummer_are_found_and_redacted(
    year: int, month: int, day: int, serial: int, sep: str
) -> None:
    digits = _pnr(f"{year:02d}{month:02d}{day:02d}{serial:03d}")
    value = f"19{digits[:6]}{sep}{digits[6:]}"
    text = f"Kundens personnummer är {value}."
    assert ("SE_PERSONNUMMER", value) in found(text)
    assert value not in redact(text)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_detect_never_fails_and_offsets_hold(text: str) -> None:
    for e in detect(text, min_score=0):
        assert e.type in ENTITY_TYPES
        assert text[e.start : e.end] == e.text
        assert 0 <= e.score <= 1


_GATE_TEXT = st.lists(
    st.sampled_from(
        [*"0123456789 -+.,:/()@AZEKSabgnpt\n", "gatan ", "Box ", "pg ", "tel ", "IP ", "SE",
         "::", "070-", "19", "00", "x.se"]
    ),
    max_size=40,
).map("".join)  # fmt: skip


@settings(max_examples=300)
@given(_GATE_TEXT)
def test_a_closed_gate_means_its_detector_finds_nothing(text: str) -> None:
    """Gates only skip work: where a gate is shut, the detector would have found nothing."""
    for detector, gate in GATES.items():
        found: list[Candidate] = []
        detector(text, found)
        if found:
            assert gate(text), (detector.__name__, text)


@pytest.mark.parametrize(
    "text",
    [
        "Ring 070-123 45 67 eller 08-123 456 78",
        "pnr 19121212-1212, org.nr 556036-0793",
        "Kort 4111 1111 1111 1111, IBAN SE45 5000 0000 0583 9825 7466",
        "BG 5050-1055, PG 28 65 43-4, host 192.168.1.20 och fe80::1",
        "Storgatan 12, 123 45 Stockholm; Box 123, 101 23 Stockholm; bil ABC 123",
    ],
)
def test_gates_open_for_what_the_detectors_find(text: str) -> None:
    for detector, gate in GATES.items():
        found: list[Candidate] = []
        detector(text, found)
        assert not found or gate(text), detector.__name__
    assert len(detect(text)) >= 2
