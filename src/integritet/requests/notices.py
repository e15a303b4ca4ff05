"""What the person is told, in Swedish and English, and sending it to their contact address.

Each notice is one email carrying both languages (Swedish first). Notices name the
request id, dates and the controller, never the personal data itself.
"""

from __future__ import annotations

from typing import Any

from integritet.requests.context import Context

NOTICES: dict[str, tuple[str, str, str, str]] = {
    # key: (subject sv, body sv, subject en, body en)
    "code": (
        "Din kod för ärende {request}",
        "Din engångskod är {code}. Den gäller i {minutes} minuter. "
        "Om du inte har begärt detta kan du bortse från meddelandet.",
        "Your code for request {request}",
        "Your one-time code is {code}. It is valid for {minutes} minutes. "
        "If you did not ask for this, you can ignore this message.",
    ),
    "confirm": (
        "Bekräfta radering, ärende {request}",
        "Du har begärt att vi raderar dina personuppgifter. Bekräfta med koden {code} "
        "(giltig i {minutes} minuter). Raderingen kan inte ångras.",
        "Confirm erasure, request {request}",
        "You asked us to erase your personal data. Confirm with the code {code} "
        "(valid for {minutes} minutes). Erasure cannot be undone.",
    ),
    "extended": (
        "Vi behöver mer tid för ärende {request}",
        "Vi förlänger tiden för att besvara din begäran till {until}. Skäl: {reason}",
        "We need more time for request {request}",
        "We are extending the time to answer your request until {until}. Reason: {reason}",
    ),
    "rejected": (
        "Beslut i ärende {request}",
        "Vi kan inte tillmötesgå din begäran. Skäl: {reason}\n"
        "Du har rätt att klaga hos Integritetsskyddsmyndigheten (IMY), www.imy.se, "
        "och att begära rättslig prövning.",
        "Decision on request {request}",
        "We cannot grant your request. Reason: {reason}\n"
        "You have the right to lodge a complaint with the Swedish Authority for Privacy "
        "Protection (IMY), www.imy.se, and to seek a judicial remedy.",
    ),
    "completed": (
        "Ärende {request} är klart",
        "Din begäran ({kind_sv}) är genomförd. {summary_sv}",
        "Request {request} is complete",
        "Your request ({kind_en}) has been carried out. {summary_en}",
    ),
}

KIND_SV = {
    "access": "tillgång",
    "portability": "dataportabilitet",
    "rectification": "rättelse",
    "restriction": "begränsning",
    "erasure": "radering",
    "objection": "invändning mot direktmarknadsföring",
}


def render(key: str, controller: str, **params: Any) -> tuple[str, str]:
    """The subject line and text body of notice ``key``, both languages."""
    subject_sv, body_sv, subject_en, body_en = NOTICES[key]
    kind = str(params.get("kind", ""))
    params.setdefault("kind_sv", KIND_SV.get(kind, kind))
    params.setdefault("kind_en", kind)
    params.setdefault("summary_sv", "")
    params.setdefault("summary_en", "")
    subject = f"{subject_sv.format(**params)} / {subject_en.format(**params)}"
    text = (
        f"{body_sv.format(**params)}\n\n{controller}\n\n-- English --\n\n"
        f"{body_en.format(**params)}\n\n{controller}\n"
    )
    return subject, text


def send(ctx: Context, to: str | None, key: str, **params: Any) -> str | None:
    """Send notice ``key`` to ``to``; ``None`` when there is no address or no mailer."""
    if not to or ctx.mailer is None:
        return None
    subject, text = render(key, ctx.manifest.controller.name, **params)
    return ctx.mailer.send(to, subject, text)
