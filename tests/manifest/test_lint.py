"""Lint rules: each has a positive and a negative (near-miss) case on the starter manifest."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from ruamel.yaml import YAML

from integritet.manifest.init import starter_text
from integritet.manifest.lint import RULES, Finding, Severity, lint, rule
from integritet.manifest.load import parse_text
from integritet.manifest.model import Manifest

Data = dict[str, Any]
Mutation = Callable[[Data], None]
STARTER: Data = YAML(typ="safe").load(starter_text())


def findings(mutate: Mutation) -> list[Finding]:
    data = copy.deepcopy(STARTER)
    mutate(data)
    return lint(Manifest.model_validate(data))


def _purpose(data: Data, pid: str) -> Data:
    return next(p for p in data["purposes"] if p["id"] == pid)


def _li(data: Data, pid: str) -> None:
    _purpose(data, pid)["legal_basis"] = "legitimate_interests"
    _purpose(data, pid)["legitimate_interest"] = {"sv": "Nya kunder", "en": "New customers"}


def _extra_category(data: Data) -> None:
    data["categories"].append(
        {
            "id": "extra",
            "name": {"sv": "X", "en": "X"},
            "fields": [{"id": "x", "name": {"sv": "X", "en": "X"}}],
            "sources": ["person"],
        }
    )
    data["retention"][0]["categories"].append("extra")


def _rule(data: Data, rid: str) -> Data:
    return next(r for r in data["retention"] if r["id"] == rid)


def _drop_rule(data: Data, rid: str) -> None:
    data["retention"].remove(_rule(data, rid))


def _log(retention: str) -> Mutation:
    def mutate(data: Data) -> None:
        data["log_sources"] = [
            {
                "id": "web",
                "path": "/var/log/x.log",
                "format": "combined",
                "categories": ["access_log"],
                "retention": retention,
            }
        ]

    return mutate


def _recipient(**changes: Any) -> Mutation:
    def mutate(data: Data) -> None:
        data["recipients"][0].update(changes)

    return mutate


def _us_storage(data: Data) -> None:
    data["storage"]["locations"][0]["country"] = "US"


def _set(*path: str | int, value: Any) -> Mutation:
    def mutate(data: Data) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(*path: str | int) -> Mutation:
    def mutate(data: Data) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(data: Data) -> None:
        for m in mutations:
            m(data)

    return mutate


DPF = {"mechanism": "adequacy", "reference": "EU-US Data Privacy Framework"}
TEXT = {"sv": "Skäl", "en": "Reason"}

CASES: dict[str, tuple[Mutation, Mutation]] = {
    "purpose-no-legal-basis": (
        _delete("purposes", 0, "legal_basis"),
        _set("purposes", 0, "legal_basis", value="public_task"),
    ),
    "legitimate-interest-unstated": (
        _set("purposes", 0, "legal_basis", value="legitimate_interests"),
        lambda d: _li(d, "service"),
    ),
    "marketing-basis": (
        _set("purposes", 2, "legal_basis", value="contract"),
        lambda d: _li(d, "newsletter"),
    ),
    "category-unused": (
        _extra_category,
        _both(_extra_category, lambda d: _purpose(d, "service")["categories"].append("extra")),
    ),
    "consent-no-channels": (
        _set("consent_purposes", 0, "channels", value=[]),
        _set("consent_purposes", 0, "channels", value=["post"]),
    ),
    "consent-basis-mismatch": (
        lambda d: _li(d, "newsletter"),
        _both(
            lambda d: _li(d, "newsletter"), _set("consent_purposes", 0, "soft_opt_in", value=True)
        ),
    ),
    "art9-no-condition": (
        _set("categories", 0, "kind", value="sensitive"),
        _both(
            _set("categories", 0, "kind", value="sensitive"),
            _set("categories", 0, "art9_condition", value="explicit_consent"),
        ),
    ),
    "national-id-no-justification": (
        _set("categories", 0, "kind", value="national_id"),
        _both(
            _set("categories", 0, "kind", value="national_id"),
            _set("categories", 0, "justification", value=TEXT),
        ),
    ),
    "retention-missing": (
        lambda d: _drop_rule(d, "contacts"),
        _both(
            lambda d: _drop_rule(d, "contacts"),
            lambda d: _rule(d, "sign-in-logs")["categories"].append("contact"),
        ),
    ),
    "network-retention-missing": (
        lambda d: _drop_rule(d, "sign-in-logs"),
        _both(lambda d: _drop_rule(d, "sign-in-logs"), _log("90d")),
    ),
    "log-retention-longer": (_log("1y"), _log("90d")),
    "transfer-missing": (
        _recipient(country="US"),
        _recipient(country="US", transfer=DPF),
    ),
    "transfer-privacy-shield": (
        _recipient(country="US", transfer={"mechanism": "privacy_shield"}),
        _recipient(country="US", transfer={"mechanism": "scc"}),
    ),
    "transfer-derogation": (
        _recipient(country="US", transfer={"mechanism": "derogation"}),
        _recipient(country="US", transfer={"mechanism": "bcr"}),
    ),
    "storage-outside-eea": (
        _us_storage,
        _both(_us_storage, _recipient(name="Example Hosting AB", country="US", transfer=DPF)),
    ),
    "recipient-no-erasure": (
        _recipient(erasure={"method": "none"}),
        _recipient(erasure={"method": "none"}, role="authority"),
    ),
    "recipient-erasure-incomplete": (
        _recipient(erasure={"method": "webhook"}),
        _recipient(erasure={"method": "webhook", "url": "https://x.example/erase"}),
    ),
    "recipient-unjustified": (
        _recipient(purposes=["service"]),
        _recipient(purposes=["service", "accounting"]),
    ),
    "financial-to-recipient": (
        _recipient(financial_data=False),
        _recipient(financial_data=False, categories=["contact"]),
    ),
    "hold-too-long": (
        _set("legal_holds", 0, "duration", value="10y"),
        _both(
            _set("legal_holds", 0, "duration", value="10y"),
            _set("legal_holds", 0, "law", value="preskriptionslagen"),
        ),
    ),
    "hold-unknown-law": (
        _set("legal_holds", 0, "law", value="Some other law"),
        _set("legal_holds", 0, "law", value=" Bokforingslagen "),
    ),
    "retention-hold-unrelated": (
        lambda d: _rule(d, "contacts").update(holds=["bookkeeping"]),
        _both(
            lambda d: _rule(d, "contacts").update(holds=["bookkeeping"]),
            lambda d: d["legal_holds"][0]["categories"].append("contact"),
        ),
    ),
    "rights-deadline": (
        _set("rights", "deadline_days", value=31),
        _set("rights", "deadline_days", value=30),
    ),
    "dpo-missing": (
        _delete("controller", "dpo"),
        _set("controller", "dpo", value={"email": "dpo@example.com"}),
    ),
    "controller-org-number": (
        _delete("controller", "org_number"),
        _set("controller", "org_number", value="556111-1111"),
    ),
    "role-category-unjustified": (
        _set("roles", 0, "categories", value=["contact", "billing"]),
        _both(
            _set("roles", 0, "categories", value=["contact", "billing"]),
            _set("roles", 0, "purposes", value=["service", "accounting"]),
        ),
    ),
    "role-without-mfa": (
        _both(_set("roles", 0, "mfa", value=False), _set("roles", 0, "can", value=["erase"])),
        _both(_set("roles", 0, "mfa", value=False), _set("roles", 0, "can", value=["read"])),
    ),
}


def test_starter_manifest_has_no_findings() -> None:
    assert findings(lambda d: None) == []


def test_every_rule_has_cases_and_metadata() -> None:
    assert set(CASES) == set(RULES)
    for registered in RULES.values():
        assert registered.reference and registered.hint and registered.title


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires(rule_id: str) -> None:
    hits = [f for f in findings(CASES[rule_id][0]) if f.rule == rule_id]
    assert hits, f"{rule_id} did not fire"
    assert all(f.reference == RULES[rule_id].reference for f in hits)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_stays_quiet_on_near_miss(rule_id: str) -> None:
    assert [f for f in findings(CASES[rule_id][1]) if f.rule == rule_id] == []


def test_privacy_shield_message_explains_schrems_ii() -> None:
    (hit,) = [
        f
        for f in findings(CASES["transfer-privacy-shield"][0])
        if f.rule.startswith("transfer-privacy")
    ]
    assert hit.severity == Severity.error
    for words in (
        "2020-07-16",
        "C-311/18",
        "Schrems II",
        "SCCs",
        "Data Privacy Framework",
        "2023-07-10",
    ):
        assert words in hit.message
    assert hit.loc == ("recipients", 0, "transfer", "mechanism")


def test_adequacy_country_without_mechanism_is_a_warning() -> None:
    (hit,) = [f for f in findings(_recipient(country="CH")) if f.rule == "transfer-missing"]
    assert hit.severity == Severity.warning
    assert "adequacy" in hit.message


def test_financial_data_to_authority_warns_unless_required_by_law() -> None:
    authority = _recipient(role="authority")
    (hit,) = [f for f in findings(authority) if f.rule == "financial-to-recipient"]
    assert hit.severity == Severity.warning
    required = _recipient(role="authority", required_by_law=True)
    assert [f for f in findings(required) if f.rule == "financial-to-recipient"] == []


def test_hold_too_long_names_the_law() -> None:
    (hit,) = [f for f in findings(CASES["hold-too-long"][0]) if f.rule == "hold-too-long"]
    assert "Bokföringslagen (1999:1078) 7 kap. 2 §" in hit.message
    assert "7 years" in hit.message and "10 years" in hit.message


def test_findings_get_positions_from_the_source() -> None:
    text = starter_text().replace("  deadline_days: 30", "  deadline_days: 45")
    result = parse_text(text, "policy.yaml")
    assert result.manifest is not None
    (hit,) = lint(result.manifest, result.source)
    line = text.splitlines().index("  deadline_days: 45") + 1
    assert (hit.rule, hit.line, hit.col) == ("rights-deadline", line, 18)
    assert hit.format("policy.yaml").startswith(
        f"policy.yaml:{line}:18: error rights-deadline: requests are answered within 45 days"
    )


def test_rule_ids_are_unique() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        rule("dpo-missing", Severity.info, "x", "y", "z")(lambda m: iter(()))
