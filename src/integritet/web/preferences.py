"""The communication-preferences page every email links to (``List-Unsubscribe``), no sign-in.

Service and legal mail (verification codes, request notices, retention warnings, policy
changes, processor requests) has no consent of its own to withdraw, so
:class:`integritet.mail.Mailer` puts a sealed link to ``/portal/preferences/{token}`` for
the recipient's address in its ``List-Unsubscribe`` header. The token is the proof (only
the recipient of the email has it; a changed token is refused), so the page works without
signing in. ``GET`` shows every consent purpose and channel with its current state and
one button; it changes nothing (mail scanners follow links). ``POST`` (the button, with
the form token) withdraws every consent that is not already withdrawn, on every channel,
including marketing that would otherwise rest on the soft opt-in for customers: each
withdrawal is a ledger event with source ``unsubscribe`` (Art. 7(3), Art. 21(2)). Unknown
addresses see that nothing is registered; the page never shows the address itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response

from integritet.access import Actor
from integritet.api.app import state
from integritet.api.auth import client_ip
from integritet.consent import ConsentSource, ConsentState, Evidence
from integritet.errors import ConsentError, NotFound
from integritet.services import Services, privacy_contact
from integritet.web.i18n import lang_of, pick, translate
from integritet.web.render import page
from integritet.web.session import (
    WebRoute,
    check_form_token,
    issue_form_token,
    prepare_form_token,
)

router = APIRouter(prefix="/portal", route_class=WebRoute, include_in_schema=False)
ACTOR = Actor.system("preferences-link")


@dataclass(frozen=True)
class Choice:
    name: str
    channel: str
    marketing: bool
    state: str
    at: datetime | None


def _subject(services: Services, token: str) -> str | None:
    """The subject the token's address belongs to (None: not known); NotFound if forged."""
    try:
        address = services.preferences.parse(token)
    except ConsentError:
        raise NotFound("this link is not valid") from None
    if "@" not in address:
        return None
    return services.vault.find_subject(ACTOR, services.manifest.purposes[0].id, "email", address)


def _choices(services: Services, subject: str | None, lang: str) -> list[Choice]:
    current = {}
    if subject is not None:
        current = {(c.purpose, c.channel): c for c in services.consent.current(subject)}
    choices = []
    for cp in services.manifest.consent_purposes:
        for channel in cp.channels:
            found = current.get((cp.id, channel.value))
            choices.append(
                Choice(
                    pick(cp.name, lang),
                    channel.value,
                    cp.marketing,
                    found.state.value if found else "never_asked",
                    found.at if found else None,
                )
            )
    return choices


def _page(request: Request, token: str, subject: str | None, done: int | None) -> Response:
    services = state(request).services
    lang = lang_of(request)
    prepare_form_token(request)
    response = page(
        request,
        "portal/preferences.html",
        title=translate(lang, "prefs.title"),
        token=token,
        known=subject is not None,
        choices=_choices(services, subject, lang),
        done=done,
        contact=services.settings.privacy_contact or privacy_contact(services.manifest),
    )
    issue_form_token(request, response)
    return response


@router.get("/preferences/{token}")
def preferences_page(token: str, request: Request) -> Response:
    """The person's consents and one button to withdraw them all (a GET changes nothing)."""
    services = state(request).services
    return _page(request, token, _subject(services, token), None)


@router.post("/preferences/{token}")
async def withdraw_all(token: str, request: Request) -> Response:
    """Withdraw every consent that is not withdrawn already, on every channel."""
    await check_form_token(request)
    app = state(request)
    app.limiter.hit(f"preferences:ip:{client_ip(request)}")
    services = app.services
    subject = _subject(services, token)
    withdrawn = 0
    if subject is not None:
        current = {(c.purpose, c.channel): c.state for c in services.consent.current(subject)}
        evidence = Evidence(
            ConsentSource.unsubscribe,
            services.manifest.policy.version,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
        for cp in services.manifest.consent_purposes:
            for channel in cp.channels:
                if current.get((cp.id, channel.value)) == ConsentState.withdrawn:
                    continue
                services.consent.record(
                    subject, cp.id, channel.value, ConsentState.withdrawn, evidence
                )
                withdrawn += 1
    return _page(request, token, subject, withdrawn)
