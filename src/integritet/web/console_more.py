"""Console pages beyond the queue: subjects, audit, retention, PII findings, the Art. 30
register, customers and staff, policy versions."""

from __future__ import annotations

from fastapi import APIRouter

from integritet.web.session import WebRoute

router = APIRouter(prefix="/console", route_class=WebRoute, include_in_schema=False)
