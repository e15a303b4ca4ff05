"""The accuracy goals, asserted on the held-out corpus split (regressions fail CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from integritet.pii import detect
from integritet.pii.evaluate import Doc, Scores, evaluate, load_jsonl, load_marked, parse_marked

CORPUS = Path(__file__).parent / "corpus"


def _corpus() -> list[Doc]:
    docs = load_jsonl(CORPUS / "templated.jsonl")
    docs += load_marked(CORPUS / "handwritten_tune.txt", "tune")
    docs += load_marked(CORPUS / "handwritten_heldout.txt", "heldout")
    return docs


@pytest.fixture(scope="module")
def heldout() -> Scores:
    docs = [d for d in _corpus() if d.split == "heldout"]
    return evaluate(docs, lambda t: [(e.type, e.start, e.end) for e in detect(t)])


def test_corpus_is_large_and_split() -> None:
    docs = _corpus()
    held = [d for d in docs if d.split == "heldout"]
    assert len(held) >= 300 and len(docs) - len(held) >= 200
    assert sum(1 for d in held if d.id.startswith("handwritten")) >= 30
    for d in docs:  # labels are well-formed spans of their text
        for kind, start, end in d.spans:
            assert 0 <= start < end <= len(d.text), (d.id, kind)


def test_goal_micro_f1(heldout: Scores) -> None:
    assert heldout.f1() >= 0.93


def test_goal_validated_identifiers(heldout: Scores) -> None:
    assert heldout.validated_f1() >= 0.98


@pytest.mark.parametrize("kind", ["PERSON", "ADDRESS"])
def test_goal_person_and_address(heldout: Scores, kind: str) -> None:
    assert heldout.support(kind) >= 40
    assert heldout.f1([kind]) >= 0.85


def test_parse_marked() -> None:
    text, spans = parse_marked("Ring [[PERSON|Anna]] på [[PHONE_NUMBER|070-1234567]].")
    assert text == "Ring Anna på 070-1234567."
    assert spans == [("PERSON", 5, 9), ("PHONE_NUMBER", 13, 24)]


def test_scores_count_exact_span_and_type() -> None:
    s = Scores()
    s.add([("PERSON", 0, 4), ("EMAIL_ADDRESS", 5, 9)], [("PERSON", 0, 4), ("PERSON", 5, 9)])
    assert s.tp["PERSON"] == 1 and s.fp["PERSON"] == 1 and s.fn["EMAIL_ADDRESS"] == 1
    assert s.f1() == pytest.approx(0.5)
