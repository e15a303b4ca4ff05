"""Which manifest changes are material (C7, P12) and which are not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from integritet.manifest import Manifest
from integritet.manifest.diff import PolicyDiff, diff

Edit = Callable[[dict[str, Any]], None]


def _changed(base: Manifest, edit: Edit) -> PolicyDiff:
    data = base.model_dump()
    edit(data)
    return diff(base, Manifest.model_validate(data))


def _item(data: dict[str, Any], section: str, wanted: str) -> dict[str, Any]:
    return next(i for i in data[section] if i["id"] == wanted)


def test_no_change(loggamera: Manifest) -> None:
    result = diff(loggamera, loggamera)
    assert result.changes == ()
    assert not result.material
    assert result.to_dict()["changes"] == []


MATERIAL: dict[str, tuple[Edit, str, set[str], set[str]]] = {
    "new purpose": (
        lambda d: d["purposes"].append(
            {
                "id": "analytics",
                "name": {"sv": "Analys", "en": "Analytics"},
                "legal_basis": "legitimate_interests",
                "categories": ["contact"],
            }
        ),
        "a new purpose",
        {"contact"},
        set(),
    ),
    "new recipient": (
        lambda d: d["recipients"].append(
            {
                "id": "crm",
                "name": "CRM",
                "role": "processor",
                "categories": ["contact"],
                "country": "US",
                "transfer": {"mechanism": "scc"},
            }
        ),
        "outside the EU/EEA",
        {"contact"},
        set(),
    ),
    "new category": (
        lambda d: d["categories"].append(
            {
                "id": "pnr",
                "name": {"sv": "Personnummer", "en": "Id number"},
                "kind": "national_id",
                "fields": [{"id": "pnr", "name": {"sv": "P", "en": "P"}}],
                "sources": ["person"],
            }
        ),
        "a new category",
        {"pnr"},
        set(),
    ),
    "new field": (
        lambda d: _item(d, "categories", "contact")["fields"].append(
            {"id": "title", "name": {"sv": "Titel", "en": "Title"}}
        ),
        "new fields",
        {"contact"},
        set(),
    ),
    "longer retention": (
        lambda d: _item(d, "retention", "three-years-after-login").update(duration="5y"),
        "kept longer",
        {"contact", "access_log"},
        set(),
    ),
    "changed legal basis": (
        lambda d: _item(d, "purposes", "messages").update(legal_basis="legitimate_interests"),
        "legal basis",
        {"contact"},
        {"status", "reports", "newsletter", "offers"},
    ),
    "new consent purpose": (
        lambda d: d["consent_purposes"].append(
            {
                "id": "surveys",
                "name": {"sv": "Enkäter", "en": "Surveys"},
                "purpose": "messages",
                "channels": ["email"],
            }
        ),
        "a new consent purpose",
        set(),
        {"surveys"},
    ),
    "new third-country transfer": (
        lambda d: _item(d, "recipients", "paypal").update(
            country="US", transfer={"mechanism": "scc"}
        ),
        "third-country",
        {"contact", "sales"},
        set(),
    ),
    "new channel": (
        lambda d: _item(d, "consent_purposes", "newsletter").update(
            channels=["email", "sms", "phone", "post"]
        ),
        "new channels",
        set(),
        {"newsletter"},
    ),
    "storage outside the EEA": (
        lambda d: d["storage"]["locations"].append(
            {"id": "us", "provider": "Cloud", "country": "US", "categories": ["contact"]}
        ),
        "outside the EU/EEA",
        {"contact"},
        set(),
    ),
    "recipient gets a category": (
        # Mailchimp receives data on the newsletter consent: that consent is asked again
        lambda d: _item(d, "recipients", "mailchimp")["categories"].append("sales"),
        "more categories",
        {"sales"},
        {"newsletter"},
    ),
}


@pytest.mark.parametrize("name", sorted(MATERIAL))
def test_material_changes(loggamera: Manifest, name: str) -> None:
    edit, reason, categories, consents = MATERIAL[name]
    result = _changed(loggamera, edit)
    assert result.material, name
    material = [c for c in result.changes if c.material]
    assert any(reason in c.reason for c in material), [str(c) for c in result.changes]
    assert result.affected_categories == categories
    assert result.affected_consent_purposes == consents


MINOR: dict[str, Edit] = {
    "wording": lambda d: _item(d, "purposes", "account").update(
        name={"sv": "Ditt konto", "en": "Your account"}
    ),
    "shorter retention": lambda d: _item(d, "retention", "three-years-after-login").update(
        duration="2y"
    ),
    "removed recipient": lambda d: d.update(
        recipients=[r for r in d["recipients"] if r["id"] != "paypal"]
    ),
    "contact details": lambda d: d["controller"].update(
        email="privacy@loggamera.se", phone="08-123 45 67"
    ),
    "removed consent purpose": lambda d: d.update(
        consent_purposes=[c for c in d["consent_purposes"] if c["id"] != "offers"]
    ),
    "storage inside the EEA": lambda d: d["storage"]["locations"].append(
        {"id": "fi", "provider": "Cloud", "country": "FI"}
    ),
    "necessary cookie": lambda d: d["cookies"].append(
        {"name": "csrf", "kind": "strictly_necessary", "purpose": {"sv": "S", "en": "S"}}
    ),
}


@pytest.mark.parametrize("name", sorted(MINOR))
def test_minor_changes(loggamera: Manifest, name: str) -> None:
    result = _changed(loggamera, MINOR[name])
    assert result.changes, name
    assert not result.material, [str(c) for c in result.changes]
    assert result.affected_categories == frozenset()


def test_analytics_cookie_is_material(loggamera: Manifest) -> None:
    result = _changed(
        loggamera,
        lambda d: d["cookies"].append(
            {"name": "_ga", "kind": "analytics", "purpose": {"sv": "S", "en": "S"}}
        ),
    )
    assert result.material


def test_json_shape(loggamera: Manifest) -> None:
    result = _changed(loggamera, MATERIAL["new recipient"][0])
    data = result.to_dict()
    assert data["material"] is True
    assert data["affected_categories"] == ["contact"]
    (change,) = data["changes"]
    assert change["section"] == "recipients" and change["item"] == "crm"
    assert change["kind"] == "added" and change["material"] is True
