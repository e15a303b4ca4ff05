"""Delegated sign-in (V2) against a small OpenID Connect provider started on 127.0.0.1:
discovery, JWKS, authorize (PKCE) and token with an RS256 ID token."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from integritet.api.app import create_app
from integritet.clock import FixedClock
from integritet.errors import IdentityError
from integritet.manifest import Manifest
from integritet.manifest.model import IdentityProvider
from integritet.services import Services
from integritet.settings import Settings

CLIENT_ID = "integritet-test"


class Provider:
    """Just enough of an OpenID Connect provider: it signs in whoever ``user`` names."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user = "anna"
        self.codes: dict[str, dict[str, str]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, data: dict[str, Any], status: int = 200) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._json(provider.discovery())
                elif url.path == "/jwks":
                    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key()))
                    self._json({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})
                elif url.path == "/authorize":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = q
                    target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                else:
                    self._json({}, 404)

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                asked = provider.codes.pop(form.get("code", ""), None)
                if asked is None or not provider.pkce_ok(asked, form.get("code_verifier", "")):
                    self._json({"error": "invalid_grant"}, 400)
                    return
                self._json({"id_token": provider.id_token(asked["nonce"]), "token_type": "Bearer"})

        return Handler

    def discovery(self) -> dict[str, str]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
        }

    def pkce_ok(self, asked: dict[str, str], verifier: str) -> bool:
        digest = hashlib.sha256(verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=") == asked["code_challenge"]

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": f"sub-{self.user}",
            "preferred_username": self.user,
            "nonce": nonce,
            "iat": now,
            "exp": now + 300,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    thread = threading.Thread(target=p.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield p
    finally:
        p.server.shutdown()
        p.server.server_close()


def test_sign_in_through_the_identity_provider(
    provider: Provider,
    api_manifest: Manifest,
    migrated_database_url: str,
    tmp_path: Path,
    clock: FixedClock,
) -> None:
    idp = IdentityProvider(name="Local IdP", issuer=provider.issuer, client_id=CLIENT_ID)
    security = api_manifest.security.model_copy(update={"identity_provider": idp})
    manifest = api_manifest.model_copy(update={"security": security})
    settings = Settings(
        home=tmp_path / "home", database_url=migrated_database_url, base_url="http://testserver"
    )
    services = Services.open(settings, manifest, clock, notify=lambda _m: None)
    try:
        services.identity.add_user("anna", "support")
        with pytest.raises(IdentityError, match="stores no passwords"):
            services.login.set_password("anna", "a-long-and-unusual-passphrase")
        client = TestClient(create_app(settings, manifest, clock, services=services))
        refused = client.post("/api/v1/auth/login", json={"username": "anna", "password": "x"})
        assert refused.status_code == 403
        callback = _through_provider(client)
        assert callback.status_code == 200, callback.text
        assert callback.json()["actor"] == "staff:anna"
        assert client.get("/api/v1/auth/me").json()["roles"] == ["support"]
        # someone the provider knows but integritet does not is refused
        provider.user = "mallory"
        client.cookies.clear()
        assert _through_provider(client).status_code == 403
        # a replayed callback (code used, flow cookie gone) is refused too
        assert client.get(callback.url.path + "?" + callback.url.query.decode()).status_code == 403
    finally:
        services.close()


def _through_provider(client: TestClient) -> httpx.Response:
    start = client.get("/api/v1/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 302
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlparse(at_provider.headers["location"])
    return client.get(f"{back.path}?{back.query}")
