"""Health and version."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from integritet import __version__

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the server answers (in the event loop: no I/O, no worker thread)."""
    return Health(status="ok", version=__version__)
