"""The result of ``integritet check`` as text lines, JSON or SARIF 2.1.0.

Loader problems (the manifest cannot be read or validated) are reported as
findings of the pseudo-rule ``manifest-invalid`` so every format has one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integritet.manifest.lint import RULES, Finding, Severity, lint
from integritet.manifest.load import Problem, format_loc, read_manifest

INVALID = "manifest-invalid"
INVALID_TITLE = "The manifest cannot be read or does not match the schema"
INVALID_REFERENCE = "integritet manifest reference (docs/manifest.md)"
INVALID_HINT = "fix the key or value at this position; docs/manifest.md lists every key"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}


@dataclass
class CheckReport:
    """Loader problems (if any) and lint findings (when the manifest loaded)."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return not self.problems

    def count(self, severity: Severity) -> int:
        found = sum(1 for f in self.findings if f.severity == severity)
        return found + (len(self.problems) if severity == Severity.error else 0)

    @property
    def ok(self) -> bool:
        return self.count(Severity.error) == 0

    def all_findings(self) -> list[Finding]:
        """Loader problems as ``manifest-invalid`` findings, then lint findings."""
        invalid = [
            Finding(
                INVALID,
                Severity.error,
                p.message,
                p.loc,
                INVALID_REFERENCE,
                INVALID_HINT,
                p.line,
                p.col,
            )
            for p in self.problems
        ]
        return invalid + self.findings


def check_file(path: Path) -> CheckReport:
    """Load ``path`` and, when it is valid, lint it."""
    result = read_manifest(path)
    report = CheckReport(result.file, problems=result.problems)
    if result.manifest is not None:
        report.findings = lint(result.manifest, result.source)
    return report


def summary_line(report: CheckReport) -> str:
    counts = {s: report.count(s) for s in Severity}
    if not report.loaded:
        return (
            f"{report.file}: {_plural(counts[Severity.error], 'error')}; the manifest is not valid"
        )
    parts = ", ".join(_plural(n, _NOUN[s]) for s, n in counts.items())
    verdict = "ok" if report.ok else "failed"
    return f"{report.file}: {verdict}: {parts}"


def to_text(report: CheckReport) -> list[str]:
    lines = [str(p) for p in report.problems]
    lines += [f.format(report.file) for f in report.findings]
    lines.append(summary_line(report))
    return lines


def to_json(report: CheckReport) -> dict[str, Any]:
    findings = [
        {
            "rule": f.rule,
            "severity": f.severity.value,
            "message": f.message,
            "path": format_loc(f.loc),
            "file": report.file,
            "line": f.line,
            "col": f.col,
            "reference": f.reference,
            "hint": f.hint,
        }
        for f in report.all_findings()
    ]
    summary = {s.value: report.count(s) for s in Severity}
    return {
        "file": report.file,
        "valid": report.loaded,
        "ok": report.ok,
        "summary": summary,
        "findings": findings,
    }


def _sarif_rules() -> list[dict[str, Any]]:
    described = [(INVALID, INVALID_TITLE, INVALID_REFERENCE, INVALID_HINT, Severity.error)]
    described += [(r.id, r.title, r.reference, r.hint, r.severity) for r in RULES.values()]
    return [
        {
            "id": rule_id,
            "name": "".join(part.capitalize() for part in rule_id.split("-")),
            "shortDescription": {"text": title},
            "fullDescription": {"text": f"{title} ({reference})"},
            "help": {"text": f"{hint}. Reference: {reference}."},
            "defaultConfiguration": {"level": _SARIF_LEVEL[severity]},
            "properties": {"reference": reference},
        }
        for rule_id, title, reference, hint, severity in described
    ]


def to_sarif(report: CheckReport, version: str) -> dict[str, Any]:
    rules = _sarif_rules()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    uri = Path(report.file).as_posix()
    results = []
    for f in report.all_findings():
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": uri}}}
        if f.line is not None:
            location["physicalLocation"]["region"] = {"startLine": f.line, "startColumn": f.col}
        if f.loc:
            location["logicalLocations"] = [{"fullyQualifiedName": format_loc(f.loc)}]
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": f"{f.message} (hint: {f.hint})"},
                "locations": [location],
            }
        )
    driver = {
        "name": "integritet",
        "version": version,
        "rules": rules,
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }


_NOUN = {Severity.error: "error", Severity.warning: "warning", Severity.info: "info"}


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 or noun == "info" else f"{n} {noun}s"
