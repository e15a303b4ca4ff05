"""Render the published privacy policy from the manifest: Swedish or English, Markdown or HTML.

Every sentence comes from ``templates/<lang>/policy.j2``, filled with the manifest's own values, so
the text people read cannot drift from what the engine enforces. The language templates describe
the content; ``templates/md.j2`` and ``templates/html.j2`` hold the layout macros (sections,
paragraphs, lists), and ``templates/page.html.j2`` wraps the HTML in a standalone page.

Language helpers (numbers in words, dates, list joins, durations) live here, as filters:
Swedish is written as Swedish ("tre år", "15 januari 2024", "a, b och c"), not translated English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from integritet.manifest.model import Duration, LogSource, Manifest, RetentionRule, Text

Lang = Literal["sv", "en"]
Fmt = Literal["md", "html"]
LANGS: tuple[Lang, ...] = ("sv", "en")
FORMATS: tuple[Fmt, ...] = ("md", "html")

_NUMBERS = {
    "sv": ["noll", "en", "två", "tre", "fyra", "fem", "sex", "sju", "åtta", "nio", "tio", "elva"],
    "en": [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven",
    ],
}  # fmt: skip
_TWELVE = {"sv": "tolv", "en": "twelve"}
# unit -> (singular, plural, neuter in Swedish: "ett år" but "en månad")
_UNITS: dict[str, dict[str, tuple[str, str, bool]]] = {
    "sv": {
        "min": ("minut", "minuter", False),
        "h": ("timme", "timmar", False),
        "d": ("dag", "dagar", False),
        "w": ("vecka", "veckor", False),
        "m": ("månad", "månader", False),
        "y": ("år", "år", True),
    },
    "en": {
        "min": ("minute", "minutes", False),
        "h": ("hour", "hours", False),
        "d": ("day", "days", False),
        "w": ("week", "weeks", False),
        "m": ("month", "months", False),
        "y": ("year", "years", False),
    },
}
_MONTHS = {
    "sv": "januari februari mars april maj juni juli augusti september oktober november december",
    "en": "January February March April May June July August September October November December",
}
_AND = {"sv": "och", "en": "and"}
_OR = {"sv": "eller", "en": "or"}
_EU = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
EEA = frozenset([*_EU.split(), "IS", "LI", "NO"])
_COUNTRIES: dict[str, tuple[str, str]] = {
    "SE": ("Sverige", "Sweden"),
    "DK": ("Danmark", "Denmark"),
    "NO": ("Norge", "Norway"),
    "FI": ("Finland", "Finland"),
    "DE": ("Tyskland", "Germany"),
    "NL": ("Nederländerna", "the Netherlands"),
    "IE": ("Irland", "Ireland"),
    "LU": ("Luxemburg", "Luxembourg"),
    "FR": ("Frankrike", "France"),
    "BE": ("Belgien", "Belgium"),
    "PL": ("Polen", "Poland"),
    "ES": ("Spanien", "Spain"),
    "IT": ("Italien", "Italy"),
    "EE": ("Estland", "Estonia"),
    "GB": ("Storbritannien", "the United Kingdom"),
    "CH": ("Schweiz", "Switzerland"),
    "US": ("USA", "the United States"),
    "CA": ("Kanada", "Canada"),
    "IN": ("Indien", "India"),
}


def number(n: int, lang: Lang, neuter: bool = False) -> str:
    """``n`` in words up to twelve, as Swedish and English style guides advise; digits above."""
    if n == 12:
        return _TWELVE[lang]
    if 0 <= n < 12:
        word = _NUMBERS[lang][n]
        return "ett" if (lang == "sv" and n == 1 and neuter) else word
    return str(n)


def duration_words(d: Duration, lang: Lang) -> str:
    """``3y`` -> ``tre år`` / ``three years``; ``1m`` -> ``en månad``; ``30d`` -> ``30 dagar``."""
    singular, plural, neuter = _UNITS[lang][d.unit]
    return f"{number(d.amount, lang, neuter)} {singular if d.amount == 1 else plural}"


def date_words(d: date, lang: Lang) -> str:
    """``15 januari 2024`` / ``15 January 2024``."""
    return f"{d.day} {_MONTHS[lang].split()[d.month - 1]} {d.year}"


def join(items: list[Any], lang: Lang, conj: Literal["and", "or"] = "and") -> str:
    """``a, b och c`` / ``a, b and c``; ``eller`` / ``or`` with ``conj="or"``."""
    words = [str(i) for i in items if str(i)]
    if len(words) <= 1:
        return "".join(words)
    word = (_AND if conj == "and" else _OR)[lang]
    return f"{', '.join(words[:-1])} {word} {words[-1]}"


def lower_first(text: str) -> str:
    """Lower-case the first letter mid-sentence, unless the word is an acronym (``IP-adress``)."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def country_name(code: str, lang: Lang) -> str:
    names = _COUNTRIES.get(code)
    return names[0 if lang == "sv" else 1] if names else code


def _squash(value: Any) -> Any:
    """Collapse template whitespace into one line of prose; keep HTML markup safe."""
    text = re.sub(r"\s+", " ", str(value)).strip()
    text = re.sub(r" ([.,;:!?])", r"\1", text)
    text = re.sub(r"\.\.+", ".", text)
    return Markup(text) if isinstance(value, Markup) else text


def _tight(value: Any) -> Any:
    """Drop blank lines (between Markdown list items)."""
    text = "\n".join(line for line in str(value).splitlines() if line.strip())
    return Markup(text) if isinstance(value, Markup) else text


@dataclass(frozen=True)
class RetentionGroup:
    """Retention rules that cover the same categories, phrased together in one sentence."""

    categories: list[str]
    until: list[RetentionRule]  # duration 0: kept until the event
    limits: list[RetentionRule]  # kept at most ``duration`` after the anchor


def retention_groups(manifest: Manifest) -> list[RetentionGroup]:
    """Group rules by category set so L3 reads 'until you deregister, at most three years after'."""
    groups: dict[tuple[str, ...], list[RetentionRule]] = {}
    for rule in manifest.retention:
        groups.setdefault(tuple(rule.categories), []).append(rule)
    return [
        RetentionGroup(
            categories=list(cats),
            until=[r for r in rules if r.duration.amount == 0],
            limits=sorted(
                (r for r in rules if r.duration.amount > 0), key=lambda r: r.duration.approx_days()
            ),
        )
        for cats, rules in groups.items()
    ]


def last_updated(manifest: Manifest) -> date:
    """The date shown as 'senast uppdaterad': the latest change or the effective date (C7)."""
    return max([manifest.policy.effective, *(c.date for c in manifest.policy.changes)])


@cache
def _environment(fmt: Fmt) -> Environment:
    env = Environment(
        loader=PackageLoader("integritet.manifest", "templates"),
        autoescape=fmt == "html",
        trim_blocks=False,  # a newline after a block tag is a space between sentences
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    env.filters["squash"] = _squash
    env.filters["lc"] = lower_first
    env.filters["uc"] = upper_first
    env.filters["slug"] = slug
    env.filters["tight"] = _tight
    return env


def days_words(days: int, lang: Lang) -> str:
    """A deadline in days, in months where it is whole months: 30 -> ``en månad``."""
    if days % 30 == 0:
        return duration_words(Duration(days // 30, "m"), lang)
    return duration_words(Duration(days, "d"), lang)


def slug(heading: str) -> str:
    """The anchor GitHub-flavoured Markdown gives a heading (``Vem vi är`` -> ``vem-vi-är``)."""
    kept = re.sub(r"[^\w\- ]", "", heading.lower())
    return kept.replace(" ", "-")


def _log_same_limit(manifest: Manifest, source: LogSource) -> bool:
    """True when a log file is kept exactly as long as its categories in the databases (L8)."""
    limits = {
        rule.duration
        for cid in source.categories
        for rule in manifest.rules_for(cid)
        if rule.duration.amount > 0
    }
    return bool(limits) and limits == {source.retention}


def _telemetry(manifest: Manifest) -> dict[str, Any]:
    tel = manifest.telemetry
    kinds = list(dict.fromkeys(f.kind for f in tel.fields)) if tel else []
    purposes = [manifest.purpose(p) for p in tel.purposes] if tel else []
    return {"telemetry_kinds": kinds, "telemetry_purposes": purposes}


def _helpers(manifest: Manifest, lang: Lang) -> dict[str, Any]:
    def cats(ids: list[str]) -> str:
        return join([lower_first(manifest.category(c).name[lang]) for c in ids], lang)

    def t(text: Text | None) -> str:
        return text[lang] if text is not None else ""

    def names(items: list[Any], conj: Literal["and", "or"] = "and") -> str:
        return join([lower_first(i.name[lang]) for i in items], lang, conj)

    def pick(words: dict[str, str], keys: list[str], conj: Literal["and", "or"] = "and") -> str:
        return join([words[str(k)] for k in keys], lang, conj)

    return {
        "t": t,
        "cats": cats,
        "names": names,
        "pick": pick,
        "days": lambda n: days_words(n, lang),
        "purposes_of": lambda r: [manifest.purpose(p) for p in r.purposes],
        "log_same_limit": lambda source: _log_same_limit(manifest, source),
        "self_service_fields": [f for c in manifest.categories if c.self_service for f in c.fields],
        "has_free_text": any(
            col.free_text
            for ds in manifest.datasets
            for table in ds.tables
            for col in table.columns.values()
        ),
        **_telemetry(manifest),
        "words": lambda d: duration_words(d, lang),
        "num": lambda n, neuter=False: number(n, lang, neuter),
        "date": lambda d: date_words(d, lang),
        "join": lambda items, conj="and": join(list(items), lang, conj),
        "country": lambda code: country_name(code, lang),
        "in_eea": lambda code: code in EEA,
        "retention_groups": retention_groups(manifest),
        "last_updated": last_updated(manifest),
    }


def render(manifest: Manifest, lang: Lang = "sv", fmt: Fmt = "md") -> str:
    """The privacy policy of ``manifest`` in ``lang``: Markdown or a standalone HTML page."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    env = _environment(fmt)
    template = env.get_template(f"{lang}/policy.j2")
    context = {"m": manifest, "fmt": fmt, "lang": lang, **_helpers(manifest, lang)}
    # Two passes: the first collects the section headings for the table of contents.
    found: list[tuple[str, str]] = []
    meta: dict[str, str] = {}
    template.render(context, toc=[], collect=found, meta=meta)
    body = template.render(context, toc=found, collect=[], meta=meta)
    if fmt == "md":
        return re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    page = env.get_template("page.html.j2").render(
        body=Markup(body), lang=lang, title=meta.get("title", "")
    )
    return re.sub(r"\n\s*\n", "\n", page)
