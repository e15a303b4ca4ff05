"""The Art. 18(2) exemption: the request engine may read a restricted person for their own
request; nobody else may, and the audit log says when it was used."""

from __future__ import annotations

import pytest

from integritet.access import Actor
from integritet.errors import AccessDenied, SubjectRestricted
from integritet.vault import Vault

ENGINE = Actor.system("requests")


def _restricted(vault: Vault, system: Actor) -> str:
    sid = vault.create_subject(system, "account", {"email": "rut@example.se"})
    vault.put_record(system, "account", sid, "contact", {"name": "Rut"}, source="person")
    vault.restrict(system, sid, "accuracy contested")
    return sid


def test_request_engine_reads_a_restricted_subject_for_its_request(
    vault: Vault, system: Actor
) -> None:
    sid = _restricted(vault, system)
    (record,) = vault.records(ENGINE, "account", sid, "contact", rights_request="r-1")
    assert record.fields == {"name": "Rut"}
    assert vault.records(ENGINE, "account", sid, rights_request="r-1")[0].id == record.id
    assert vault.identities(ENGINE, "account", sid, rights_request="r-1") == {
        "email": "rut@example.se"
    }
    reads = [
        e
        for e in vault.audit.entries(subject=sid)
        if e.action in ("vault.read", "vault.identities") and e.outcome == "allowed"
    ]
    assert len(reads) == 3
    assert all(e.detail["exemption"] == "art18_own_rights" for e in reads)
    assert all(e.detail["request"] == "r-1" for e in reads)


def test_ordinary_reads_of_a_restricted_subject_are_still_refused(
    vault: Vault, system: Actor
) -> None:
    sid = _restricted(vault, system)
    with pytest.raises(SubjectRestricted):
        vault.records(ENGINE, "account", sid, "contact")
    with pytest.raises(SubjectRestricted):
        vault.identities(ENGINE, "account", sid)
    with pytest.raises(SubjectRestricted):
        vault.records(system, "account", sid, "contact")


@pytest.mark.parametrize("actor", [Actor.system("retention"), Actor.staff("dina", "dpo")])
def test_only_the_request_engine_may_claim_the_exemption(
    vault: Vault, system: Actor, actor: Actor
) -> None:
    sid = _restricted(vault, system)
    with pytest.raises(AccessDenied, match="own request"):
        vault.records(actor, "account", sid, "contact", rights_request="r-1")
    denied = [e for e in vault.audit.entries(subject=sid) if e.outcome == "denied"]
    assert denied and denied[-1].actor == actor.label


def test_unrestricted_read_for_a_request_names_it_without_exemption(
    vault: Vault, system: Actor
) -> None:
    sid = vault.create_subject(system, "account", {"email": "ola@example.se"})
    assert vault.identities(ENGINE, "account", sid, rights_request="r-2")
    (read,) = [e for e in vault.audit.entries(subject=sid) if e.action == "vault.identities"]
    assert read.detail["request"] == "r-2" and "exemption" not in read.detail
