"""GDPR and Swedish-law lint rules for a valid manifest.

Each rule is one function registered with :func:`rule`: an id, a default
severity, the legal reference and a fix hint. A rule yields :class:`Hit`s (key
path + message, optionally another severity); :func:`lint` turns them into
:class:`Finding`s and, given the loader's :class:`SourceMap`, adds line:col.
Every rule id is documented in ``docs/manifest.md`` (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum

from integritet.manifest.load import SourceMap, format_loc
from integritet.manifest.model import Loc, Manifest


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


@dataclass(frozen=True)
class Finding:
    """One lint finding; ``line``/``col`` are 1-based when the source is known."""

    rule: str
    severity: Severity
    message: str
    loc: Loc
    reference: str
    hint: str
    line: int | None = None
    col: int | None = None

    def format(self, file: str) -> str:
        where = file if self.line is None else f"{file}:{self.line}:{self.col}"
        at = f" (at {format_loc(self.loc)})" if self.loc else ""
        return (
            f"{where}: {self.severity} {self.rule}: {self.message}{at} "
            f"[{self.reference}] (hint: {self.hint})"
        )


@dataclass(frozen=True)
class Hit:
    loc: Loc
    message: str
    severity: Severity | None = None


RuleCheck = Callable[[Manifest], Iterator[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    reference: str
    hint: str
    check: RuleCheck


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, severity: Severity, title: str, reference: str, hint: str
) -> Callable[[RuleCheck], RuleCheck]:
    """Register a rule function under ``rule_id``."""

    def register(check: RuleCheck) -> RuleCheck:
        if rule_id in RULES:
            raise ValueError(f"lint rule {rule_id!r} registered twice")
        RULES[rule_id] = Rule(rule_id, severity, title, reference, hint, check)
        return check

    return register


def lint(manifest: Manifest, source: SourceMap | None = None) -> list[Finding]:
    """Run every rule; findings sorted by position, then rule id."""
    findings: list[Finding] = []
    for registered in RULES.values():
        for hit in registered.check(manifest):
            finding = Finding(
                registered.id,
                hit.severity or registered.severity,
                hit.message,
                hit.loc,
                registered.reference,
                registered.hint,
            )
            if source is not None:
                line, col = source.value(hit.loc)
                finding = replace(finding, line=line, col=col)
            findings.append(finding)
    findings.sort(key=lambda f: (f.line or 0, f.col or 0, f.rule))
    return findings


def _register_builtin_rules() -> None:
    # The rule modules register themselves with ``rule`` when imported.
    from integritet.manifest import lint_rules, lint_sharing  # noqa: F401


_register_builtin_rules()
