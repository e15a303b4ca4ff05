"""Connectors to the company's own systems and to its recipients.

- :mod:`~integritet.connectors.base`: the ``Connector`` protocol and erasure reports;
- :mod:`~integritet.connectors.sql`: ``SQLConnector`` over any SQLAlchemy URL, driven by the
  manifest's ``datasets``;
- :mod:`~integritet.connectors.memory`: ``MemoryConnector``, an in-memory fake;
- :mod:`~integritet.connectors.webhook`: ``WebhookOutbox``, signed webhooks with retries.
"""

from __future__ import annotations

from integritet.connectors.base import Connector, ErasureReport, Rectifier, Row, TableErasure
from integritet.connectors.memory import MemoryConnector
from integritet.connectors.rectify import RectifyReport
from integritet.connectors.signing import secret_from_env, verify_signature
from integritet.connectors.sql import SQLConnector, connectors_for, dataset_url
from integritet.connectors.webhook import Delivery, Status, WebhookOutbox

__all__ = [
    "Connector",
    "Delivery",
    "ErasureReport",
    "MemoryConnector",
    "Rectifier",
    "RectifyReport",
    "Row",
    "SQLConnector",
    "Status",
    "TableErasure",
    "WebhookOutbox",
    "connectors_for",
    "dataset_url",
    "secret_from_env",
    "verify_signature",
]
