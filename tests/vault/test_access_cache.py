"""The vault's access cache decides exactly like ``access.check``, subject by subject."""

from __future__ import annotations

import itertools

import pytest

from integritet.access import AccessCache, Actor, check
from integritet.errors import AccessDenied
from integritet.manifest import Manifest
from integritet.vault import Vault


def _outcome(call: object, *args: object, **kwargs: object) -> str:
    try:
        call(*args, **kwargs)  # type: ignore[operator]
    except AccessDenied as exc:
        return f"denied: {exc.reason}"
    return "allowed"


def _actors() -> list[Actor]:
    return [
        Actor.system("requests"),
        Actor.subject("s1"),
        Actor.staff("anna", "support"),
        Actor.staff("dina", "dpo"),
        Actor.staff("tove", "technician", assigned_customers=frozenset({"c1"})),
        Actor.staff("tim", "technician", assigned_machines=frozenset({"m1"})),
        Actor(id="kim", kind="customer", roles=("customer_admin",), customer="c1"),
        Actor(id="kai", kind="customer", roles=("customer_admin",), customer="c2"),
        Actor.staff("bo", "support", "technician", assigned_customers=frozenset({"c2"})),
        Actor.staff("nobody", "no_such_role"),
    ]


def test_cache_answers_exactly_like_check_for_every_subject(loggamera: Manifest) -> None:
    """Every actor, purpose, category and action, against subjects of different customers
    and machines, asked twice (the second answer comes from the cache): same outcome and
    same refusal reason as the uncached check."""
    cache = AccessCache(loggamera)
    purposes = [p.id for p in loggamera.purposes] + ["spying"]
    categories: list[str | None] = [c.id for c in loggamera.categories] + [None, "diary"]
    actions = ["read", "write", "erase", "export", "manage_requests"]
    subjects = [
        {"subject_customer": "c1", "subject": "s1"},
        {"subject_customer": "c2", "subject": "s2"},
        {"subject_customer": None, "subject": "s3", "machine": "m1"},
        {"subject_customer": None, "subject": None, "scope_known": False},
    ]
    compared = allowed = 0
    for actor, purpose, category, action in itertools.product(
        _actors(), purposes, categories, actions
    ):
        for _round, where in itertools.product(range(2), subjects):
            expected = _outcome(check, loggamera, actor, purpose, category, action, **where)
            got = _outcome(cache.check, actor, purpose, category, action, **where)
            assert got == expected, (actor.label, purpose, category, action, where)
            compared += 1
            allowed += expected == "allowed"
    assert compared > 1000 and 0 < allowed < compared


def test_a_cached_allow_does_not_reach_another_customers_subject(loggamera: Manifest) -> None:
    cache = AccessCache(loggamera)
    admin = Actor(id="kim", kind="customer", roles=("customer_admin",), customer="c1")
    cache.check(admin, "account", "contact", "read", subject_customer="c1", subject="s1")
    with pytest.raises(AccessDenied, match="own customer organisation"):
        cache.check(admin, "account", "contact", "read", subject_customer="c2", subject="s2")
    me = Actor.subject("s1")
    cache.check(me, "account", "contact", "read", subject="s1")
    with pytest.raises(AccessDenied, match="only on their own data"):
        cache.check(me, "account", "contact", "read", subject="s2")


def test_vault_uses_a_fresh_cache_when_its_manifest_changes(
    vault: Vault, loggamera: Manifest
) -> None:
    support = Actor.staff("anna", "support")
    vault.access.check(support, "account", "contact", "read")
    roles = [r.model_copy(update={"can": ["write"]}) for r in loggamera.roles]
    vault.manifest = loggamera.model_copy(update={"roles": roles})
    with pytest.raises(AccessDenied, match="cannot read"):
        vault.access.check(support, "account", "contact", "read")
