"""Policy changes in sentences (sv/en) instead of the diff's English reasons."""

from __future__ import annotations

from integritet.manifest import Manifest
from integritet.manifest.diff import Change, diff
from integritet.manifest.model import Duration
from integritet.web.changes import describe, keys
from web.conftest import Web


def changed(manifest: Manifest, version: str | None = None) -> Manifest:
    """The manifest with material and non-material changes in many sections (validated)."""
    data = manifest.model_dump(mode="json")
    for purpose in data["purposes"]:
        if purpose["id"] == "account" and "monitoring" not in purpose["categories"]:
            purpose["categories"].append("monitoring")
    recipient = dict(data["recipients"][0], id="analytics", name="Analys Inc", country="US")
    recipient["transfer"] = {"mechanism": "scc", "reference": "EU SCC 2021/914"}
    data["recipients"] = [*data["recipients"][1:], recipient]
    for rule in data["retention"]:
        old = Duration.parse(rule["duration"])
        rule["duration"] = f"{old.amount + 2}{old.unit}"  # kept longer: material
    consent = dict(
        data["consent_purposes"][0], id="surveys", name={"sv": "Enkäter", "en": "Surveys"}
    )
    data["consent_purposes"].append(consent)
    if version is not None:
        data["policy"]["version"] = version
    return Manifest.model_validate(data)


def test_every_change_of_a_real_diff_has_its_own_sentence(loggamera: Manifest) -> None:
    new = changed(loggamera)
    changes = diff(loggamera, new).changes
    assert len(changes) >= 5
    for change in changes:
        assert keys(change)[0] != "change.other", change
        sv, en = describe(change, new, loggamera, "sv"), describe(change, new, loggamera, "en")
        assert sv != en and change.reason not in sv and sv.endswith(".")
    by_section = {c.section: c for c in changes}
    outside = describe(by_section["recipients"], new, loggamera, "sv")
    kinds = [describe(c, new, loggamera, "sv") for c in changes if c.section == "recipients"]
    assert "Ny mottagare utanför EU/EES: Analys Inc (US)." in kinds, outside
    consent = next(c for c in changes if c.section == "consent_purposes")
    assert (
        describe(consent, new, loggamera, "sv") == "Nytt samtycke att ta ställning till: Enkäter."
    )
    assert describe(consent, new, loggamera, "en") == "A new consent to decide on: Surveys."
    longer = next(c for c in changes if c.section == "retention" and c.material)
    assert "sparas längre" in describe(longer, new, loggamera, "sv")
    assert " år" in describe(longer, new, loggamera, "sv")  # durations in words, not "5y"


def test_ids_become_names_and_unknown_changes_still_read_as_sentences(loggamera: Manifest) -> None:
    grew = Change("purposes", "account", "changed", True, "x", "categories", None, "contact")
    assert keys(grew)[0] == "change.purposes.changed.categories"
    text = describe(grew, loggamera, None, "en")
    assert text.endswith("now uses more kinds of data: Name and contact details."), text
    unknown = Change("widgets", "w1", "changed", False, "something technical")
    assert describe(unknown, loggamera, None, "sv") == "Ändring under widgets: w1."
    basis = Change(
        "purposes", "account", "changed", True, "x", "legal_basis", "consent", "contract"
    )
    assert "avtal med dig (tidigare ditt samtycke)" in describe(basis, loggamera, None, "sv")


def test_policy_pages_show_the_changes_in_the_readers_language(web: Web) -> None:
    first = web.services.manifest
    web.services.publisher.publish(first, lambda _c, _p: [])
    second = changed(first, "9.9")
    web.services.publisher.publish(second, lambda _c, _p: [])
    web.console_sign_in("dpo")
    sv = web.client.get("/console/policy?lang=sv").text
    assert "Ny mottagare utanför EU/EES: Analys Inc (US)." in sv
    assert "a new recipient outside the EU/EEA" not in sv  # not the diff's English reason
    en = web.client.get("/console/policy?lang=en").text
    assert "A new recipient outside the EU/EEA: Analys Inc (US)." in en
    web.portal_sign_in("alice")
    mine = web.client.get("/portal/policy?lang=sv").text
    assert "Nytt samtycke att ta ställning till: Enkäter." in mine
