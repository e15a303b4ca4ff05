"""Console pages beyond the queue: find a person, PII findings, the Art. 30 register,
customers and staff, and policy versions (the audit log and retention:
:mod:`integritet.web.console_audit`).

Each page names the action it needs (``read``, ``read_audit``, ``run_retention``,
``manage_staff``...) and refuses users whose role cannot do it; reads of personal data
go through the vault with the user as actor and the chosen purpose (audited).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from integritet.access import check_action
from integritet.api.app import state
from integritet.api.auth import allow
from integritet.api.register import register as build_register
from integritet.errors import AccessDenied, IntegritetError
from integritet.web.console import principal
from integritet.web.i18n import lang_of, translate
from integritet.web.policy import console_versions
from integritet.web.render import page, redirect
from integritet.web.session import Staff, WebRoute, WebUser

router = APIRouter(prefix="/console", route_class=WebRoute, include_in_schema=False)
IDENTITY_KINDS = ("email", "phone", "personnummer", "customer_number", "external_id")


def need(request: Request, user: WebUser, action: str, *, scope_all: bool = False) -> None:
    services = state(request).services
    allow(services, principal(user), action)
    if scope_all:
        check_action(services.manifest, user.actor, action)


def _title(request: Request, key: str) -> str:
    return translate(lang_of(request), key)


@router.get("/subjects")
def subjects_page(user: Staff, request: Request) -> Response:
    need(request, user, "read")
    return page(
        request,
        "console/subjects.html",
        title=_title(request, "cnav.subjects"),
        kinds=IDENTITY_KINDS,
        purposes=_purposes(request, user),
    )


def _purposes(request: Request, user: WebUser) -> list[Any]:
    roles = {r.id: r for r in state(request).manifest.roles}
    allowed = {p for r in user.actor.roles if r in roles for p in roles[r].purposes}
    return [p for p in state(request).manifest.purposes if p.id in allowed]


@router.post("/subjects")
def find_subject(
    user: Staff,
    request: Request,
    kind: Annotated[str, Form(max_length=32)],
    value: Annotated[str, Form(max_length=200)],
    purpose: Annotated[str, Form(max_length=64)],
) -> Response:
    """Look a person up by the blind index (the value is neither stored nor logged)."""
    need(request, user, "read")
    services = state(request).services
    found = services.vault.find_subject(user.actor, purpose, kind, value.strip())
    customer, requests = None, []
    if found is not None:
        customer_id = services.vault.subject_customer(found)
        customer = services.vault.customer_name(customer_id) if customer_id else None
        requests = [v for v in services.requests.list_requests() if v.subject_id == found]
    return page(
        request,
        "console/subjects.html",
        title=_title(request, "cnav.subjects"),
        kinds=IDENTITY_KINDS,
        purposes=_purposes(request, user),
        searched=True,
        found=found,
        customer=customer,
        requests=requests,
        kind=kind,
        purpose=purpose,
    )


def _customers(request: Request) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from integritet.vault.tables import CustomerRow

    with state(request).services.vault.tx() as s:
        return [(c.id, c.name) for c in s.scalars(select(CustomerRow).order_by(CustomerRow.name))]


@router.get("/pii")
def pii_page(user: Staff, request: Request) -> Response:
    """Personal data typed into the free-text columns of the manifest's datasets (L2)."""
    from integritet.pii.database import free_text_columns, scan_datasets

    need(request, user, "erase", scope_all=True)
    manifest = state(request).manifest
    tables = [(ds.id, table, cols) for ds, table, cols, _key in free_text_columns(manifest)]
    report, error = None, None
    if tables:
        try:
            report = scan_datasets(manifest)
        except IntegritetError as exc:
            error = exc.message
    return page(
        request,
        "console/pii.html",
        title=_title(request, "cnav.pii"),
        tables=tables,
        report=report,
        error=error,
    )


@router.post("/pii/remove")
def pii_remove(
    user: Staff, request: Request, source: Annotated[str, Form(max_length=200)]
) -> Response:
    """Replace the findings in one dataset table with ``[TYPE]`` (audited)."""
    from integritet.audit import AuditEvent
    from integritet.pii.database import dataset_url, free_text_columns, remove_pii

    need(request, user, "erase", scope_all=True)
    services = state(request).services
    for ds, table, cols, key in free_text_columns(services.manifest):
        if f"{ds.id}:{table}" == source:
            done = remove_pii(dataset_url(ds), table, cols, key=key)
            services.audit.append_now(
                AuditEvent(
                    actor=user.actor.label,
                    action="pii.remove",
                    outcome="done",
                    detail={"source": source, "rows": done.rows, "findings": done.total},
                )
            )
            return redirect("/console/pii", "pii_removed")
    raise AccessDenied("this table has no free-text columns in the manifest")


@router.get("/register")
def register_page(user: Staff, request: Request) -> Response:
    """The record of processing activities (Art. 30), printable."""
    need(request, user, "read")
    data = build_register(state(request).manifest, lang_of(request))
    return page(request, "console/register.html", title=_title(request, "cnav.register"), reg=data)


@router.get("/people")
def people_page(user: Staff, request: Request) -> Response:
    """Customer organisations, staff users and their assignments."""
    need(request, user, "read")
    services = state(request).services
    from sqlalchemy import select

    from integritet.identity.tables import AssignmentRow

    with services.identity.tx() as s:
        links = list(s.scalars(select(AssignmentRow)))
    return page(
        request,
        "console/people.html",
        title=_title(request, "cnav.people"),
        customers=_customers(request),
        users=services.identity.users(),
        links=links,
        roles=services.manifest.roles,
        admin=_can_manage(request, user),
    )


def _can_manage(request: Request, user: WebUser) -> bool:
    try:
        need(request, user, "manage_staff")
    except AccessDenied:
        return False
    return True


@router.post("/people/users")
def add_user(
    user: Staff,
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=64)],
    customer: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    need(request, user, "manage_staff", scope_all=True)
    kind = "customer" if customer else "staff"
    state(request).services.identity.add_user(username, role, customer=customer or None, kind=kind)
    return redirect("/console/people", "user_added")


@router.post("/people/assignments")
def assign(
    user: Staff,
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    customer: Annotated[str, Form(max_length=64)],
) -> Response:
    need(request, user, "manage_staff", scope_all=True)
    state(request).services.identity.assign(username, "customer", customer)
    return redirect("/console/people", "assigned")


@router.get("/policy")
def policy_page(user: Staff, request: Request) -> Response:
    """Published policy versions, each with its changes against the one before."""
    need(request, user, "read")
    return page(
        request,
        "console/policy.html",
        title=_title(request, "cnav.policy"),
        versions=console_versions(state(request).services, lang_of(request)),
    )
