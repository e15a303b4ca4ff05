"""The rendered policy: every section in both languages and formats, valid HTML, Swedish style."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from itertools import pairwise

import pytest

from integritet.manifest import Manifest
from integritet.manifest.model import Duration
from integritet.manifest.render import (
    date_words,
    days_words,
    duration_words,
    join,
    lower_first,
    render,
    slug,
)

SECTIONS = {
    "sv": [
        "Vem vi är",
        "Vilka uppgifter vi samlar in och varifrån",
        "Varför vi behandlar uppgifterna och med vilken rätt",
        "Vår roll: personuppgiftsansvarig eller biträde",
        "Ditt samtycke och dina val",
        "Vem som får ta del av uppgifterna",
        "Var uppgifterna lagras",
        "Hur länge vi sparar uppgifterna",
        "Dina rättigheter och hur du använder dem",
        "Så skyddar vi uppgifterna",
        "Kakor (cookies)",
        "Ändringar i policyn",
        "Kontakt och dataskyddsombud",
        "Rätt att klaga",
    ],
    "en": [
        "Who we are",
        "What we collect and where it comes from",
        "Why we process the data and on what legal basis",
        "Our role: controller or processor",
        "Your consent and your choices",
        "Who receives the data",
        "Where the data is stored",
        "How long we keep the data",
        "Your rights and how to use them",
        "How we protect the data",
        "Cookies",
        "Changes to this policy",
        "Contact and data protection officer",
        "Your right to complain",
    ],
}
VOID = {"meta", "br", "hr", "img", "input", "link"}


class _Structure(HTMLParser):
    """Records the tag stack problems, headings and landmarks of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.tags: set[str] = set()
        self.lang: str | None = None
        self._heading: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        if tag in VOID:
            return
        self.stack.append(tag)
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self._heading = int(tag[1])
            self.headings.append((self._heading, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()
        if self._heading is not None and tag == f"h{self._heading}":
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            level, text = self.headings[-1]
            self.headings[-1] = (level, text + data)


def _parse(page: str) -> _Structure:
    parser = _Structure()
    parser.feed(page)
    parser.close()
    return parser


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_every_section_is_present(loggamera: Manifest, lang: str, fmt: str) -> None:
    text = render(loggamera, lang, fmt)  # type: ignore[arg-type]
    for heading in SECTIONS[lang]:
        assert heading in text, heading
    assert loggamera.controller.name in text
    assert loggamera.controller.email in text


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_markdown_is_clean(loggamera: Manifest, lang: str) -> None:
    text = render(loggamera, lang, "md")  # type: ignore[arg-type]
    assert text.startswith("# ")
    assert "\n\n\n" not in text
    assert "{{" not in text and "{%" not in text
    assert " ." not in text and " ," not in text
    assert sum(line.startswith("## ") for line in text.splitlines()) == len(SECTIONS[lang])
    # the table of contents links to GitHub-style heading anchors
    assert f"(#{slug(SECTIONS[lang][0])})" in text


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_html_is_a_well_formed_accessible_page(loggamera: Manifest, lang: str) -> None:
    page = render(loggamera, lang, "html")  # type: ignore[arg-type]
    assert page.startswith("<!DOCTYPE html>")
    parsed = _parse(page)
    assert parsed.problems == []
    assert parsed.stack == []
    assert parsed.lang == lang
    assert {"header", "nav", "main", "section", "footer", "title"} <= parsed.tags
    levels = [level for level, _ in parsed.headings]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in pairwise(levels))
    assert [t for level, t in parsed.headings if level == 2][1:] == SECTIONS[lang]
    assert "@media print" in page


def test_html_escapes_manifest_values(loggamera: Manifest) -> None:
    data = loggamera.model_dump()
    data["controller"]["name"] = "Loggamera <b>AB</b> & Co"
    page = render(Manifest.model_validate(data), "sv", "html")
    assert "Loggamera &lt;b&gt;AB&lt;/b&gt; &amp; Co" in page
    assert "<b>AB</b>" not in page


def test_swedish_numbers_dates_and_lists() -> None:
    assert duration_words(Duration(3, "y"), "sv") == "tre år"
    assert duration_words(Duration(1, "y"), "sv") == "ett år"
    assert duration_words(Duration(1, "m"), "sv") == "en månad"
    assert duration_words(Duration(6, "m"), "sv") == "sex månader"
    assert duration_words(Duration(30, "d"), "sv") == "30 dagar"
    assert duration_words(Duration(12, "m"), "en") == "twelve months"
    assert days_words(30, "sv") == "en månad"
    assert days_words(60, "en") == "two months"
    assert date_words(date(2024, 1, 15), "sv") == "15 januari 2024"
    assert date_words(date(2021, 8, 1), "en") == "1 August 2021"
    assert join(["a", "b", "c"], "sv") == "a, b och c"
    assert join(["a", "b"], "en", "or") == "a or b"
    assert join(["a"], "sv") == "a"
    assert lower_first("Namn") == "namn"
    assert lower_first("IP-adress") == "IP-adress"


def test_retention_reads_as_one_sentence(loggamera: Manifest) -> None:
    sv = render(loggamera, "sv", "md")
    assert "tills du avregistrerar dig, dock högst tre år efter din senaste inloggning" in sv
    en = render(loggamera, "en", "md")
    assert "until you deregister, but no longer than three years after your last sign-in" in en


def test_dates_come_from_the_manifest(loggamera: Manifest) -> None:
    data = loggamera.model_dump()
    data["policy"]["effective"] = date(2025, 3, 9)
    data["policy"]["changes"] = []
    sv = render(Manifest.model_validate(data), "sv", "md")
    assert "Senast uppdaterad 9 mars 2025" in sv


def test_unknown_language_or_format_is_refused(loggamera: Manifest) -> None:
    with pytest.raises(ValueError, match="language"):
        render(loggamera, "de", "md")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format"):
        render(loggamera, "sv", "pdf")  # type: ignore[arg-type]
