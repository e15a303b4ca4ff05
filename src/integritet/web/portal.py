"""The self-service portal ``/portal`` for the people whose data the company holds.

Sign-in is by a one-time link emailed to an address the vault knows (the identity
module's subject links); then the person sees their data by category, edits their
contact details (a rectification request, applied at once and passed on to recipients),
sets consents per purpose and channel (L9), downloads their data (an access request's
report, JSON or a zip of CSV files), asks for erasure and confirms it with an emailed
code (L4), restricts or objects, and reads the policy version their data follows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from integritet.access import Actor
from integritet.api.app import state
from integritet.api.auth import CSRF_COOKIE, SESSION_COOKIE, client_ip
from integritet.api.routes.signin import set_session_cookies
from integritet.errors import IntegritetError
from integritet.web import consents as consent_view
from integritet.web import people
from integritet.web.i18n import LANGS, lang_of, translate
from integritet.web.render import page, redirect
from integritet.web.session import (
    Subject,
    WebRoute,
    check_form_token,
    issue_form_token,
    prepare_form_token,
)

router = APIRouter(prefix="/portal", route_class=WebRoute, include_in_schema=False)


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    prepare_form_token(request)
    response = page(
        request, "portal/sign_in.html", title=translate(lang_of(request), "signin.title")
    )
    issue_form_token(request, response)
    return response


@router.post("/sign-in")
async def sign_in(request: Request, email: Annotated[str, Form(max_length=254)]) -> Response:
    """Email a one-time link when the address is known; the same answer either way."""
    await check_form_token(request)
    app = state(request)
    address = email.strip().lower()
    app.limiter.hit(f"weblink:ip:{client_ip(request)}", f"weblink:addr:{address}")
    services = app.services
    subject = None
    if "@" in address:
        system = Actor.system("portal")
        subject = services.vault.find_subject(
            system, services.manifest.purposes[0].id, "email", address
        )
    if subject is not None and services.mailer is not None:
        token = services.identity.create_subject_link(
            subject, services.vault.subject_customer(subject)
        )
        url = f"{app.settings.base_url.rstrip('/')}/portal/link/{token}"
        name = services.manifest.controller.name
        services.mailer.send(
            address,
            translate("sv", "mail.link_subject") + " / " + translate("en", "mail.link_subject"),
            translate("sv", "mail.link_text", controller=name, url=url)
            + "\n\n"
            + translate("en", "mail.link_text", controller=name, url=url),
        )
    return page(request, "portal/link_sent.html", title=translate(lang_of(request), "signin.sent"))


@router.get("/link/{token}")
def link_page(token: str, request: Request) -> Response:
    """The emailed link opens a button: GET never spends the link (mail scanners fetch it)."""
    prepare_form_token(request)
    response = page(
        request, "portal/link.html", title=translate(lang_of(request), "signin.title"), token=token
    )
    issue_form_token(request, response)
    return response


@router.post("/link/{token}")
async def redeem(token: str, request: Request) -> Response:
    await check_form_token(request)
    app = state(request)
    app.limiter.hit(f"redeem:ip:{client_ip(request)}")
    value, session = app.services.identity.redeem_subject_link(token)
    response = redirect("/portal", "signed_in")
    set_session_cookies(request, response, value, session)
    return response


@router.post("/sign-out")
def sign_out(user: Subject, request: Request) -> Response:
    state(request).services.identity.end_session(user.session_id)
    response = redirect("/portal/sign-in", "signed_out")
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("")
def overview(user: Subject, request: Request) -> Response:
    services = state(request).services
    lang = lang_of(request)
    categories = people.my_data(services, user.actor, lang)
    return page(
        request,
        "portal/overview.html",
        title=translate(lang, "portal.my_data"),
        categories=categories,
        requests=people.my_requests(services, user.actor)[:3],
        now=state(request).clock.now(),
    )


@router.get("/contact")
def contact_page(user: Subject, request: Request) -> Response:
    services = state(request).services
    lang = lang_of(request)
    fields = people.editable_fields(services, user.actor, lang)
    return page(
        request, "portal/contact.html", title=translate(lang, "contact.title"), fields=fields
    )


@router.post("/contact")
async def save_contact(user: Subject, request: Request) -> Response:
    """V4: the changed self-service fields become a rectification, applied at once."""
    services = state(request).services
    form = await request.form()
    lang = lang_of(request)
    changes: dict[str, dict[str, str]] = {}
    for spec in people.editable_fields(services, user.actor, lang):
        value = form.get(f"{spec['category']}.{spec['id']}")
        if isinstance(value, str) and value.strip() != spec["value"]:
            changes.setdefault(spec["category"], {})[spec["id"]] = value.strip()
    if not changes:
        return redirect("/portal/contact", "no_changes")
    request_id = people.file_request(services, user.actor, "rectification", changes)
    try:
        services.requests.process(request_id)
    except IntegritetError:  # e.g. a recipient cannot be told yet: staff finish it
        return redirect("/portal/contact", "contact_received")
    return redirect("/portal/contact", "contact_saved")


@router.get("/consents")
def consents_page(user: Subject, request: Request) -> Response:
    services = state(request).services
    lang = lang_of(request)
    rows = consent_view.rows(services, user.actor.id, lang)
    return page(request, "portal/consents.html", title=translate(lang, "consents.title"), rows=rows)


@router.post("/consents")
async def save_consents(user: Subject, request: Request) -> Response:
    """L9: one decision per switch that changed, with IP, user agent and the text shown."""
    services = state(request).services
    form = await request.form()
    checked = {v for v in form.getlist("on") if isinstance(v, str)}
    shown = form.get("shown_lang")  # the language the sentences were shown in
    changed = consent_view.save(
        services,
        user.actor.id,
        shown if isinstance(shown, str) and shown in LANGS else lang_of(request),
        checked,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return redirect("/portal/consents", "consents_saved" if changed else "no_changes")


@router.get("/download")
def download_page(user: Subject, request: Request) -> Response:
    lang = lang_of(request)
    return page(request, "portal/download.html", title=translate(lang, "download.title"))


@router.post("/download")
def download(
    user: Subject, request: Request, format: Annotated[str, Form(pattern="^(json|zip)$")]
) -> Response:
    """An access request, verified by the sign-in link, run now; its report is the file.

    One request (and one emailed receipt) per hour of downloads: see
    :func:`integritet.web.people.download_request`.
    """
    from integritet.audit import AuditEvent
    from integritet.requests import access

    app = state(request)
    services = app.services
    request_id = people.download_request(services, user.actor, app.clock.now())
    report = services.requests.report(request_id)
    services.audit.append_now(
        AuditEvent(
            actor=user.actor.label,
            action="portal.download",
            outcome="done",
            subject=user.actor.id,
            detail={"request": request_id, "format": format},
        )
    )
    if format == "json":
        body, media, name = access.to_json(report).encode(), "application/json", "json"
    else:
        body, media, name = access.to_zip(report), "application/zip", "zip"
    filename = f"my-data-{state(request).clock.now():%Y-%m-%d}.{name}"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/erase")
def erase_page(user: Subject, request: Request) -> Response:
    services = state(request).services
    lang = lang_of(request)
    return page(
        request,
        "portal/erase.html",
        title=translate(lang, "erase.title"),
        kept=people.kept_by_law(services.manifest, lang),
    )


@router.post("/erase")
def erase(
    user: Subject, request: Request, understood: Annotated[str | None, Form()] = None
) -> Response:
    """Step 1 of L4: the person ticked that they understand; a code goes to their email."""
    if understood != "yes":
        return redirect("/portal/erase", "tick_to_confirm")
    services = state(request).services
    request_id = people.file_request(services, user.actor, "erasure")
    services.requests.send_code(request_id)
    return redirect(f"/portal/requests/{request_id}/confirm", "code_sent")


@router.get("/requests/{request_id}/confirm")
def confirm_page(user: Subject, request_id: str, request: Request) -> Response:
    view = people.own_request(state(request).services, user.actor, request_id)
    lang = lang_of(request)
    return page(request, "portal/confirm.html", title=translate(lang, "confirm.title"), view=view)


@router.post("/requests/{request_id}/confirm")
def confirm(
    user: Subject,
    request_id: str,
    request: Request,
    code: Annotated[str, Form(max_length=12)] = "",
    resend: Annotated[str | None, Form()] = None,
) -> Response:
    """Step 2 of L4: the emailed code confirms the erasure (or a new code is sent)."""
    app = state(request)
    people.own_request(app.services, user.actor, request_id)
    if resend:
        app.services.requests.send_code(request_id)
        return redirect(f"/portal/requests/{request_id}/confirm", "code_sent")
    app.limiter.hit(f"confirm:ip:{client_ip(request)}", f"confirm:req:{request_id}")
    try:
        app.services.requests.confirm(request_id, code.strip())
    except IntegritetError:
        view = app.services.requests.get(request_id)
        lang = lang_of(request)
        return page(
            request,
            "portal/confirm.html",
            status=422,
            title=translate(lang, "confirm.title"),
            view=view,
            error=translate(lang, "confirm.wrong"),
        )
    return redirect("/portal/requests", "erasure_confirmed")


@router.get("/requests")
def requests_page(user: Subject, request: Request) -> Response:
    app = state(request)
    lang = lang_of(request)
    return page(
        request,
        "portal/requests.html",
        title=translate(lang, "requests.title"),
        requests=people.my_requests(app.services, user.actor),
        now=app.clock.now(),
    )


@router.post("/requests")
def new_request(
    user: Subject, request: Request, kind: Annotated[str, Form(pattern="^(restriction|objection)$")]
) -> Response:
    """Art. 18 restriction or Art. 21 objection: verified by the link, for staff to run."""
    people.file_request(state(request).services, user.actor, kind)
    return redirect("/portal/requests", f"filed_{kind}")


@router.get("/policy")
def policy_page(user: Subject, request: Request) -> Response:
    from integritet.web.policy import my_policy

    lang = lang_of(request)
    info = my_policy(state(request).services, user.actor, lang)
    return page(request, "portal/policy.html", title=translate(lang, "policy.title"), info=info)
