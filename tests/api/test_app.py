from __future__ import annotations

from fastapi.testclient import TestClient

from integritet.api.app import create_app
from integritet.manifest import Manifest
from integritet.settings import Settings


def client(manifest: Manifest) -> TestClient:
    return TestClient(create_app(Settings(), manifest))


def test_openapi_lives_under_api_v1(loggamera: Manifest) -> None:
    spec = client(loggamera).get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "integritet"
    assert "/api/v1/health" in spec["paths"] and "/api/v1/policy" in spec["paths"]


def test_policy_is_served_in_both_languages(loggamera: Manifest) -> None:
    c = client(loggamera)
    sv = c.get("/api/v1/policy", params={"lang": "sv"})
    assert sv.status_code == 200 and 'lang="sv"' in sv.text and "tre år" in sv.text
    en = c.get("/api/v1/policy", params={"lang": "en", "format": "md"})
    assert en.headers["content-type"].startswith("text/markdown") and "three years" in en.text
    assert c.get("/api/v1/policy", params={"lang": "de"}).status_code == 422
    version = c.get("/api/v1/policy/version").json()
    assert version["version"] == loggamera.policy.version


def test_security_headers_and_landing_page(loggamera: Manifest) -> None:
    response = client(loggamera).get("/")
    assert response.status_code == 200 and loggamera.controller.name in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
