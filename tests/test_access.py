"""Access rules: purpose x category, roles, actions, scope, subject actors."""

from __future__ import annotations

import pytest

from integritet.access import Actor, check, check_action
from integritet.errors import AccessDenied
from integritet.manifest import Manifest
from integritet.manifest.model import StaffRole


def _with_roles(manifest: Manifest, *roles: StaffRole) -> Manifest:
    return manifest.model_copy(update={"roles": [*manifest.roles, *roles]})


def _role(rid: str, scope: str) -> StaffRole:
    return StaffRole.model_validate(
        {
            "id": rid,
            "name": {"sv": rid, "en": rid},
            "purposes": ["account"],
            "categories": ["contact"],
            "scope": scope,
            "can": ["read"],
        }
    )


def test_undeclared_purpose_and_category_use_are_refused(loggamera: Manifest) -> None:
    system = Actor.system("retention")
    with pytest.raises(AccessDenied, match="purpose 'spying' is not declared"):
        check(loggamera, system, "spying", "contact", "read")
    with pytest.raises(AccessDenied, match="may not use category 'sales'"):
        check(loggamera, system, "account", "sales", "read")
    check(loggamera, system, "accounting", "sales", "erase")  # system: every declared purpose


def test_role_must_list_purpose_category_and_action(loggamera: Manifest) -> None:
    support = Actor.staff("anna", "support")
    check(loggamera, support, "account", "contact", "read")
    check(loggamera, support, "account", "contact", "write")
    with pytest.raises(AccessDenied, match="cannot erase"):
        check(loggamera, support, "account", "contact", "erase")
    with pytest.raises(AccessDenied, match="does not cover category 'access_log'"):
        check(loggamera, support, "account", "access_log", "read")
    with pytest.raises(AccessDenied, match="has no role"):
        check(loggamera, Actor.staff("eve"), "account", "contact", "read")
    with pytest.raises(AccessDenied, match="has no role"):
        check(loggamera, Actor.staff("eve", "no-such-role"), "account", "contact", "read")


def test_any_of_several_roles_may_allow(loggamera: Manifest) -> None:
    both = Actor.staff("kim", "support", "dpo")
    check(loggamera, both, "accounting", "sales", "read")
    check(loggamera, both, "installation", "contact", "write")


def test_own_customer_scope(loggamera: Manifest) -> None:
    manifest = _with_roles(loggamera, _role("customer-admin", "own_customer"))
    admin = Actor(id="lisa", kind="customer", roles=("customer-admin",), customer="c1")
    check(manifest, admin, "account", "contact", "read", subject_customer="c1")
    with pytest.raises(AccessDenied, match="only its own customer"):
        check(manifest, admin, "account", "contact", "read", subject_customer="c2")
    with pytest.raises(AccessDenied):
        check(manifest, admin, "account", "contact", "read")


def test_assigned_scope_by_customer_or_machine(loggamera: Manifest) -> None:
    manifest = _with_roles(loggamera, _role("technician", "assigned"))
    tech = Actor.staff(
        "tom",
        "technician",
        assigned_customers=frozenset({"c1"}),
        assigned_machines=frozenset({"m9"}),
    )
    check(manifest, tech, "account", "contact", "read", subject_customer="c1")
    check(manifest, tech, "account", "contact", "read", subject_customer="c2", machine="m9")
    with pytest.raises(AccessDenied, match="only assigned"):
        check(manifest, tech, "account", "contact", "read", subject_customer="c2", machine="m1")
    # a lookup that found nobody has no relationship to check
    check(manifest, tech, "account", "contact", "read", scope_known=False)


def test_subject_actor_reaches_only_itself(loggamera: Manifest) -> None:
    me = Actor.subject("s1")
    check(loggamera, me, "account", "contact", "read", subject="s1")
    check(loggamera, me, "account", "contact", "erase", subject="s1")
    with pytest.raises(AccessDenied, match="only on their own data"):
        check(loggamera, me, "account", "contact", "read", subject="s2")
    with pytest.raises(AccessDenied, match="may not run_retention"):
        check(loggamera, me, "account", "contact", "run_retention", subject="s1")


def test_check_action_without_purpose(loggamera: Manifest) -> None:
    check_action(loggamera, Actor.system("x"), "manage_staff")
    check_action(loggamera, Actor.staff("anna", "support"), "manage_requests")
    with pytest.raises(AccessDenied, match="cannot read_audit"):
        check_action(loggamera, Actor.staff("anna", "support"), "read_audit")


def test_labels_and_reasons_carry_ids_only() -> None:
    assert Actor.system("retention").label == "system:retention"
    assert Actor.staff("anna", "support").label == "staff:anna"
    assert AccessDenied("x").reason == "x"
