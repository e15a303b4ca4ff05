"""The PII check behind the warn-while-typing free-text fields (L2)."""

from __future__ import annotations

from fastapi import APIRouter

from integritet.api.auth import Caller
from integritet.api.schemas import PIIFinding, PIIIn, PIIOut
from integritet.pii import ENTITY_TYPES, detect

router = APIRouter(prefix="/pii", tags=["pii"])

WARNING = (
    "Skriv inte personuppgifter i det här fältet. / "
    "Please do not enter personal data in this field."
)


@router.post("/check", response_model=PIIOut)
def check(who: Caller, body: PIIIn) -> PIIOut:
    """Find personal data in a text (types and positions; the text is not kept or echoed)."""
    wanted = [e for e in body.entities if e in ENTITY_TYPES] if body.entities else None
    found = detect(body.text, entities=wanted)
    findings = [PIIFinding(type=e.type, start=e.start, end=e.end, score=e.score) for e in found]
    return PIIOut(findings=findings, warning=WARNING if findings else None)
