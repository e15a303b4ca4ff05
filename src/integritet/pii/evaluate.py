"""Score a detector against labelled text: exact span and type, per type and micro.

Labelled texts are written inline: ``Ring [[PERSON|Anna Berg]] på
[[PHONE_NUMBER|070-123 45 67]]``. :func:`parse_marked` turns that into the
plain text and its gold spans; :func:`evaluate` compares any detector's
spans to the gold ones and returns precision, recall and F1 per type.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from integritet.pii.core import VALIDATED

Span = tuple[str, int, int]
MARK_RE = re.compile(r"\[\[([A-Z_]+)\|(.+?)\]\]")


@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    spans: tuple[Span, ...]
    split: str  # "tune" or "heldout"


def parse_marked(marked: str) -> tuple[str, list[Span]]:
    """Plain text and gold spans from inline ``[[TYPE|text]]`` labels."""
    parts: list[str] = []
    spans: list[Span] = []
    pos = 0
    length = 0
    for m in MARK_RE.finditer(marked):
        before = marked[pos : m.start()]
        parts.append(before)
        length += len(before)
        value = m.group(2)
        spans.append((m.group(1), length, length + len(value)))
        parts.append(value)
        length += len(value)
        pos = m.end()
    parts.append(marked[pos:])
    return "".join(parts), spans


def load_marked(path: Path, split: str) -> list[Doc]:
    """One labelled document per non-empty line; ``#`` starts a comment line."""
    docs = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        text, spans = parse_marked(line.replace("\\n", "\n"))
        docs.append(Doc(f"{path.stem}:{no}", text, tuple(spans), split))
    return docs


def load_jsonl(path: Path) -> list[Doc]:
    """Documents stored as ``{"id", "split", "text", "spans": [[type, start, end], ...]}``."""
    docs = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            spans = tuple((t, int(s), int(e)) for t, s, e in row["spans"])
            docs.append(Doc(row["id"], row["text"], spans, row["split"]))
    return docs


@dataclass
class Scores:
    """Counts per type; precision, recall and F1 derived from them."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)

    def add(self, gold: Iterable[Span], predicted: Iterable[Span]) -> None:
        g, p = set(gold), set(predicted)
        for kind, _, _ in g & p:
            self.tp[kind] += 1
        for kind, _, _ in p - g:
            self.fp[kind] += 1
        for kind, _, _ in g - p:
            self.fn[kind] += 1

    def types(self) -> list[str]:
        return sorted(set(self.tp) | set(self.fp) | set(self.fn))

    def f1(self, types: Iterable[str] | None = None) -> float:
        """Micro F1 over ``types`` (default: all)."""
        p, r = self.precision(types), self.recall(types)
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def precision(self, types: Iterable[str] | None = None) -> float:
        ts = list(self.types() if types is None else types)
        tp = sum(self.tp[t] for t in ts)
        denom = tp + sum(self.fp[t] for t in ts)
        return 1.0 if denom == 0 else tp / denom

    def recall(self, types: Iterable[str] | None = None) -> float:
        ts = list(self.types() if types is None else types)
        tp = sum(self.tp[t] for t in ts)
        denom = tp + sum(self.fn[t] for t in ts)
        return 1.0 if denom == 0 else tp / denom

    def validated_f1(self) -> float:
        return self.f1([t for t in self.types() if t in VALIDATED])

    def support(self, kind: str) -> int:
        return self.tp[kind] + self.fn[kind]


def evaluate(docs: Iterable[Doc], predict: Callable[[str], Iterable[Span]]) -> Scores:
    """Run ``predict`` over each document and score it against the gold spans."""
    scores = Scores()
    for doc in docs:
        scores.add(doc.spans, predict(doc.text))
    return scores


def table(scores: Scores) -> list[tuple[str, int, float, float, float]]:
    """Rows (type, support, precision, recall, F1), then MICRO and VALIDATED."""
    rows = [
        (t, scores.support(t), scores.precision([t]), scores.recall([t]), scores.f1([t]))
        for t in scores.types()
    ]
    validated = [t for t in scores.types() if t in VALIDATED]
    rows.append(
        ("VALIDATED", sum(scores.support(t) for t in validated), scores.precision(validated),
         scores.recall(validated), scores.f1(validated))
    )  # fmt: skip
    rows.append(
        ("MICRO", sum(scores.support(t) for t in scores.types()), scores.precision(),
         scores.recall(), scores.f1())
    )  # fmt: skip
    return rows
