"""An app factory for running the API under uvicorn directly, e.g. with several workers::

    INTEGRITET_HOME=/srv/integritet INTEGRITET_POLICY=/srv/policy.yaml \\
        uvicorn --factory integritet.api.asgi:create --workers 2 --no-access-log

Settings come from the environment (``INTEGRITET_*``) and the manifest from
``INTEGRITET_POLICY``, exactly as ``integritet serve`` reads them. Each worker process
builds its own app (engines, caches, rate-limit buckets).
"""

from __future__ import annotations

from fastapi import FastAPI

from integritet.api.app import create_app
from integritet.manifest import load_manifest
from integritet.settings import get_settings


def create() -> FastAPI:
    """The app for the settings and policy in the environment."""
    settings = get_settings()
    return create_app(settings, load_manifest(settings.policy))
