"""Who may do what with personal data: actors, roles, purposes, scope, restriction.

The manifest decides. A data access is allowed when

1. the purpose is declared and may use the category (``purposes[].categories``);
2. the actor may pursue that purpose on that category with that action:

   - ``system`` actors (retention, request processing, import) may use every declared
     purpose and every action;
   - ``staff`` and ``customer`` actors need one of their manifest ``roles`` that lists the
     purpose, the category and the action (``can``), and whose ``scope`` reaches the subject:
     ``all``; ``own_customer`` (the subject belongs to the actor's organisation);
     ``assigned`` (the subject's customer or the machine is assigned to the actor);
     ``self`` (the actor is the subject);
   - ``subject`` actors (a data subject in the portal) reach only themselves.

Everything else raises :class:`~integritet.errors.AccessDenied` with a reason that
names ids, never personal values. Restriction (Art. 18) is checked by the vault, which
knows the subject's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from integritet.errors import AccessDenied
from integritet.manifest import Manifest
from integritet.manifest.model import Scope, StaffRole

ActorKind = Literal["staff", "system", "subject", "customer"]

SUBJECT_ACTIONS: frozenset[str] = frozenset({"read", "write", "erase", "export", "manage_consent"})


@dataclass(frozen=True)
class Actor:
    """Someone or something acting on personal data.

    ``id`` is a staff user name, a system component name, a pseudonymous subject id
    (for ``kind="subject"``) or a customer-admin user name. ``label`` is what the audit
    log records, e.g. ``staff:anna`` or ``system:retention``.
    """

    id: str
    kind: ActorKind
    roles: tuple[str, ...] = ()
    customer: str | None = None
    assigned_customers: frozenset[str] = field(default_factory=frozenset)
    assigned_machines: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def system(cls, name: str) -> Actor:
        """A system actor (retention, request runner, import): every declared purpose."""
        return cls(id=name, kind="system")

    @classmethod
    def staff(cls, name: str, *roles: str, **kwargs: object) -> Actor:
        """Shorthand for a staff member with the given manifest roles."""
        return cls(id=name, kind="staff", roles=tuple(roles), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def subject(cls, subject_id: str, customer: str | None = None) -> Actor:
        """A data subject acting on their own data (the portal)."""
        return cls(id=subject_id, kind="subject", customer=customer)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


def check(
    manifest: Manifest,
    actor: Actor,
    purpose: str,
    category: str | None,
    action: str,
    *,
    subject_customer: str | None = None,
    machine: str | None = None,
    subject: str | None = None,
    scope_known: bool = True,
) -> None:
    """Raise :class:`AccessDenied` unless ``actor`` may ``action`` ``category`` for ``purpose``.

    ``category=None`` checks an operation on the subject as a whole (find, create, erase):
    the purpose must be declared and the role must list it. ``subject`` is the pseudonymous
    id of the subject acted on (needed for ``scope: self`` and subject actors).
    ``scope_known=False`` skips the scope check (a lookup that found nobody: there is no
    subject whose relationship to the actor could be checked).
    """
    _decide(
        _plan(manifest, actor.kind, actor.roles, purpose, category, action),
        actor,
        action,
        subject_customer,
        machine,
        subject,
        scope_known,
    )


@dataclass(frozen=True)
class _Plan:
    """What the manifest decides of a check before looking at the subject.

    ``refused``: a reason that holds for every subject (undeclared purpose or category,
    a purpose that may not use the category). ``roles``: the actor's roles in order, each
    with its scope and the reason it refuses whatever the subject (``None``: it would
    allow, if its scope reaches the subject).
    """

    refused: str | None
    roles: tuple[tuple[str, Scope, str | None], ...]


def _plan(
    manifest: Manifest,
    kind: ActorKind,
    roles: tuple[str, ...],
    purpose: str,
    category: str | None,
    action: str,
) -> _Plan:
    declared = {p.id for p in manifest.purposes}
    if purpose not in declared:
        return _Plan(f"purpose {purpose!r} is not declared in the manifest", ())
    if category is not None:
        if category not in {c.id for c in manifest.categories}:
            return _Plan(f"category {category!r} is not declared in the manifest", ())
        if not manifest.purpose_allows(purpose, category):
            return _Plan(f"purpose {purpose!r} may not use category {category!r}", ())
    if kind in ("system", "subject"):
        return _Plan(None, ())
    by_id = {r.id: r for r in manifest.roles}
    return _Plan(
        None,
        tuple(
            (by_id[r].id, by_id[r].scope, _role_refuses(by_id[r], purpose, category, action))
            for r in roles
            if r in by_id
        ),
    )


def _decide(
    plan: _Plan,
    actor: Actor,
    action: str,
    subject_customer: str | None,
    machine: str | None,
    subject: str | None,
    scope_known: bool,
) -> None:
    if plan.refused is not None:
        raise AccessDenied(plan.refused)
    if actor.kind == "system":
        return
    if actor.kind == "subject":
        _check_subject_actor(actor, action, subject)
        return
    reasons: list[str] = []
    for role_id, scope, refusal in plan.roles:
        reason = refusal
        if reason is None and scope_known:
            reason = _scope_refuses(scope, actor, subject_customer, machine, subject)
        if reason is None:
            return
        reasons.append(f"role {role_id!r} {reason}")
    if not reasons:
        raise AccessDenied(f"{actor.label} has no role in the manifest")
    raise AccessDenied(f"{actor.label} may not {action}: " + "; ".join(reasons))


class AccessCache:
    """:func:`check` for one manifest, remembering what the manifest decides per (actor
    kind, roles, purpose, category, action).

    Only the subject-independent part is remembered (declared purpose and category, which
    roles serve the purpose, cover the category and allow the action); the scope of each
    role (``own_customer``, ``assigned``, ``self``) and subject actors are still checked
    against the subject on every call, so the answers and refusal reasons are exactly
    those of :func:`check`. The manifest is immutable; a new manifest needs a new cache.
    """

    def __init__(self, manifest: Manifest, size: int = 4096) -> None:
        self.manifest = manifest
        self._size = size
        self._plans: dict[tuple[object, ...], _Plan] = {}

    def check(
        self,
        actor: Actor,
        purpose: str,
        category: str | None,
        action: str,
        *,
        subject_customer: str | None = None,
        machine: str | None = None,
        subject: str | None = None,
        scope_known: bool = True,
    ) -> None:
        """Exactly :func:`check` with this cache's manifest."""
        key = (actor.kind, actor.roles, purpose, category, action)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= self._size:
                self._plans.clear()
            plan = self._plans[key] = _plan(
                self.manifest, actor.kind, actor.roles, purpose, category, action
            )
        _decide(plan, actor, action, subject_customer, machine, subject, scope_known)


def check_action(
    manifest: Manifest,
    actor: Actor,
    action: str,
    *,
    subject_customer: str | None = None,
    subject: str | None = None,
) -> None:
    """Check an action that is not tied to a purpose (restrict, manage customers...)."""
    if actor.kind == "system":
        return
    if actor.kind == "subject":
        _check_subject_actor(actor, action, subject)
        return
    reasons: list[str] = []
    for role in _roles(manifest, actor):
        if action not in role.can:
            reasons.append(f"role {role.id!r} cannot {action}")
            continue
        scope = _scope_refuses(role.scope, actor, subject_customer, None, subject)
        if scope is None:
            return
        reasons.append(f"role {role.id!r} {scope}")
    if not reasons:
        raise AccessDenied(f"{actor.label} has no role in the manifest")
    raise AccessDenied(f"{actor.label} may not {action}: " + "; ".join(reasons))


def _roles(manifest: Manifest, actor: Actor) -> list[StaffRole]:
    by_id = {r.id: r for r in manifest.roles}
    return [by_id[r] for r in actor.roles if r in by_id]


def _check_subject_actor(actor: Actor, action: str, subject: str | None) -> None:
    if subject is None or subject != actor.id:
        raise AccessDenied(f"{actor.label} may act only on their own data")
    if action not in SUBJECT_ACTIONS:
        raise AccessDenied(f"{actor.label} may not {action}")


def _role_refuses(role: StaffRole, purpose: str, category: str | None, action: str) -> str | None:
    if purpose not in role.purposes:
        return f"does not serve purpose {purpose!r}"
    if category is not None and category not in role.categories:
        return f"does not cover category {category!r}"
    if action not in role.can:
        return f"cannot {action}"
    return None


def _scope_refuses(
    scope: Scope,
    actor: Actor,
    subject_customer: str | None,
    machine: str | None,
    subject: str | None,
) -> str | None:
    if scope == Scope.all:
        return None
    if scope == Scope.own_customer:
        if actor.customer is not None and subject_customer == actor.customer:
            return None
        return "reaches only its own customer organisation"
    if scope == Scope.assigned:
        if subject_customer is not None and subject_customer in actor.assigned_customers:
            return None
        if machine is not None and machine in actor.assigned_machines:
            return None
        return "reaches only assigned customers and machines"
    if subject is not None and subject == actor.id:
        return None
    return "reaches only the actor's own data"
