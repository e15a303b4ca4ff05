"""Legal facts the lint rules rely on: the EU/EEA, adequacy decisions, retention laws.

Kept apart from the rules so each fact has one place and one citation.
"""

from __future__ import annotations

from dataclasses import dataclass

from integritet.manifest.model import Anchor, Duration

EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR EL HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
EEA = EU | {"IS", "LI", "NO"}
"""EU member states (Greece as GR or EL) plus Iceland, Liechtenstein and Norway."""

ADEQUACY = frozenset("AD AR CA FO GG IL IM JP JE NZ KR CH GB UY US".split())
"""Countries with an adequacy decision under GDPR Art. 45.

The United States only for organisations certified under the EU-US Data
Privacy Framework (Commission decision of 2023-07-10), so a US recipient must
still say ``mechanism: adequacy`` with a reference to its certification.
"""

PRIVACY_SHIELD_INVALIDATED = "2020-07-16"
DPF_ADOPTED = "2023-07-10"


@dataclass(frozen=True)
class RetentionLaw:
    """A law that requires (and so justifies) keeping records for at most ``longest``."""

    name: str
    longest: Duration
    anchor: Anchor
    reference: str


KNOWN_LAWS: dict[str, RetentionLaw] = {
    "bokforingslagen": RetentionLaw(
        "Bokföringslagen (1999:1078)",
        Duration(7, "y"),
        Anchor.fiscal_year_end,
        "Bokföringslagen (1999:1078) 7 kap. 2 §: until the end of the seventh year "
        "after the end of the calendar year in which the fiscal year ended",
    ),
    "penningtvattslagen": RetentionLaw(
        "Lag (2017:630) om åtgärder mot penningtvätt och finansiering av terrorism",
        Duration(5, "y"),
        Anchor.contract_end,
        "Penningtvättslagen (2017:630) 5 kap. 3 §: five years after the business "
        "relationship ended or the transaction was carried out",
    ),
    "preskriptionslagen": RetentionLaw(
        "Preskriptionslagen (1981:130)",
        Duration(10, "y"),
        Anchor.contract_end,
        "Preskriptionslagen (1981:130) 2 §: claims become time-barred ten years after "
        "they arose (three years against consumers)",
    ),
}
"""Known law ids for ``legal_holds[].law``; other values are accepted as free text."""
