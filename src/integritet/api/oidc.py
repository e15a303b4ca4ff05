"""Delegated sign-in through an OpenID Connect provider (V2): authorization code + PKCE.

With ``security.identity_provider`` in the manifest, staff sign in at the company's own
identity provider and integritet stores no password. The flow:

1. ``/auth/oidc/login`` redirects to the provider's ``authorization_endpoint`` with a
   random ``state``, ``nonce`` and PKCE challenge (S256); the three are kept in a short-lived
   HttpOnly cookie, so any worker can finish the flow;
2. the provider redirects back to ``/auth/oidc/callback?code&state``; the code is exchanged
   at the ``token_endpoint`` (client secret from ``client_secret_env``) for an ID token;
3. the ID token must be RS256/ES256-signed by a key of the provider's JWKS, with the
   expected issuer, audience (``client_id``) and nonce, and unexpired (PyJWT checks it);
4. its ``preferred_username`` (or ``sub``) must name a user provisioned with
   ``integritet staff add``: the provider proves who it is, the manifest role says what
   they may do.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from integritet.errors import AccessDenied, ConfigError
from integritet.manifest.model import IdentityProvider

ALGORITHMS = ["RS256", "ES256"]
FLOW_COOKIE = "integritet_oidc"


@dataclass(frozen=True)
class Flow:
    """The per-sign-in secrets, kept in the flow cookie between redirect and callback."""

    state: str
    nonce: str
    verifier: str

    def cookie(self) -> str:
        return f"{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def parse(cls, value: str | None) -> Flow:
        parts = (value or "").split(".")
        if len(parts) != 3 or not all(parts):
            raise AccessDenied("the sign-in flow expired or was not started here")
        return cls(*parts)

    @classmethod
    def new(cls) -> Flow:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48))

    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class OIDCClient:
    """A relying party for one provider; discovery and keys are fetched once and cached."""

    def __init__(
        self, provider: IdentityProvider, redirect_uri: str, http: httpx.Client | None = None
    ) -> None:
        self.provider = provider
        self.redirect_uri = redirect_uri
        self.http = http or httpx.Client(timeout=10.0)
        self._config: dict[str, Any] | None = None
        self._keys: jwt.PyJWKSet | None = None

    def config(self) -> dict[str, Any]:
        if self._config is None:
            url = self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
            self._config = self._get_json(url)
            if self._config.get("issuer") != self.provider.issuer:
                raise ConfigError("the identity provider's discovery names another issuer")
        return self._config

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self.http.get(url)
            response.raise_for_status()
            data: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ConfigError(
                f"the identity provider is not reachable ({type(exc).__name__})"
            ) from None
        return data

    def authorize_url(self, flow: Flow) -> str:
        query = {
            "response_type": "code",
            "client_id": self.provider.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile email",
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": flow.challenge(),
            "code_challenge_method": "S256",
        }
        return f"{self.config()['authorization_endpoint']}?{urlencode(query)}"

    def _secret(self) -> str | None:
        name = self.provider.client_secret_env
        return os.environ.get(name) if name else None

    def exchange(self, code: str, flow: Flow) -> dict[str, Any]:
        """Trade the code for tokens and return the verified ID token's claims."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.provider.client_id,
            "code_verifier": flow.verifier,
        }
        secret = self._secret()
        if secret:
            data["client_secret"] = secret
        try:
            response = self.http.post(self.config()["token_endpoint"], data=data)
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"the identity provider is not reachable ({type(exc).__name__})"
            ) from None
        if response.status_code != 200:
            raise AccessDenied("the identity provider refused the sign-in code")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise AccessDenied("the identity provider returned no ID token")
        return self.verify(id_token, flow.nonce)

    def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = self._key(kid)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self.provider.client_id,
                issuer=self.provider.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise AccessDenied(f"the ID token is not valid ({type(exc).__name__})") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise AccessDenied("the ID token does not answer this sign-in (nonce)")
        return claims

    def _key(self, kid: str | None) -> Any:
        for attempt in range(2):
            if self._keys is None or attempt:
                self._keys = jwt.PyJWKSet.from_dict(self._get_json(self.config()["jwks_uri"]))
            for key in self._keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
        raise AccessDenied("the ID token is signed by an unknown key")


def username_of(claims: dict[str, Any]) -> str:
    """The integritet user name an ID token names."""
    value = claims.get("preferred_username") or claims.get("sub")
    return str(value).strip().lower()
