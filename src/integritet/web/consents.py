"""Consent switches per consent purpose x channel (L9), and saving what changed.

Next to each switch the person reads one sentence: who contacts them, about what (the
consent purpose's name and, when the manifest has one, its description) and by which
channel. That visible sentence, in the language the page was shown in, is the text
recorded as evidence (its SHA-256 in the ledger); the form says which language it
showed, so the hash is of exactly what was on the screen. IP address and user agent are
sealed under the person's key by the ledger's sealer.
"""

from __future__ import annotations

from dataclasses import dataclass

from integritet.consent import ConsentSource, ConsentState, Evidence
from integritet.services import Services
from integritet.web.i18n import pick, translate


@dataclass(frozen=True)
class Switch:
    purpose: str
    channel: str
    label: str
    on: bool
    state: str
    at: object

    @property
    def key(self) -> str:
        return f"{self.purpose}:{self.channel}"


@dataclass(frozen=True)
class ConsentRow:
    """One consent purpose with a switch per channel."""

    purpose: str
    name: str
    description: str
    marketing: bool
    switches: list[Switch]


def evidence_text(services: Services, purpose: str, channel: str, lang: str) -> str:
    """The sentence shown next to a switch, which is the sentence the person agrees to."""
    cp = services.consent.purpose(purpose, channel)
    text = translate(
        lang,
        "consents.switch_text",
        purpose=pick(cp.name, lang),
        channel=translate(lang, f"channel.{channel}"),
        controller=services.manifest.controller.name,
    )
    description = pick(cp.description, lang).strip()
    return f"{text} {description}" if description else text


def rows(services: Services, subject_id: str, lang: str) -> list[ConsentRow]:
    current = {(c.purpose, c.channel): c for c in services.consent.current(subject_id)}
    out = []
    for cp in services.manifest.consent_purposes:
        switches = []
        for channel in cp.channels:
            now = current[(cp.id, channel.value)]
            switches.append(
                Switch(
                    cp.id,
                    channel.value,
                    evidence_text(services, cp.id, channel.value, lang),
                    now.state == ConsentState.given,
                    now.state.value,
                    now.at,
                )
            )
        out.append(
            ConsentRow(
                cp.id, pick(cp.name, lang), pick(cp.description, lang), cp.marketing, switches
            )
        )
    return out


def save(
    services: Services,
    subject_id: str,
    lang: str,
    checked: set[str],
    *,
    ip: str | None,
    user_agent: str | None,
) -> int:
    """Record a decision for each switch whose state changed; returns how many."""
    changed = 0
    for row in rows(services, subject_id, lang):
        for switch in row.switches:
            wanted = switch.key in checked
            if wanted == switch.on:
                continue
            if not wanted and switch.state == ConsentState.never_asked.value:
                continue  # an untouched switch that was never on: nothing to withdraw
            evidence = Evidence(
                ConsentSource.portal,
                services.manifest.policy.version,
                text=switch.label,
                ip=ip,
                user_agent=user_agent,
            )
            state = ConsentState.given if wanted else ConsentState.withdrawn
            services.consent.record(subject_id, switch.purpose, switch.channel, state, evidence)
            changed += 1
    return changed
