"""Console sign-in through an OpenID Connect provider (V2), with passwords switched off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from api.test_oidc import CLIENT_ID, Provider
from integritet.clock import FixedClock
from integritet.manifest import Manifest
from integritet.manifest.model import IdentityProvider
from web.conftest import Web, build


@pytest.fixture
def provider() -> Iterator[Provider]:
    import threading

    p = Provider()
    thread = threading.Thread(target=p.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield p
    finally:
        p.server.shutdown()
        p.server.server_close()


@pytest.fixture
def oidc_web(
    provider: Provider,
    migrated_sqlite_url: str,
    tmp_path: Path,
    clock: FixedClock,
    web_manifest: Manifest,
) -> Iterator[Web]:
    idp = IdentityProvider(name="Loggamera ID", issuer=provider.issuer, client_id=CLIENT_ID)
    security = web_manifest.security.model_copy(update={"identity_provider": idp})
    manifest = web_manifest.model_copy(update={"security": security})
    yield from build(migrated_sqlite_url, tmp_path / "home", clock, manifest)


def through_provider(web: Web) -> httpx.Response:
    start = web.client.get("/console/oidc/login", follow_redirects=False)
    assert start.status_code == 302
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlparse(at_provider.headers["location"])
    assert back.path == "/console/oidc/callback"
    return web.client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_sign_in_offers_the_provider_and_hides_the_password_form(
    oidc_web: Web, provider: Provider
) -> None:
    web = oidc_web
    page = web.client.get("/console/sign-in?lang=en").text
    assert "Sign in with Loggamera ID" in page and 'href="/console/oidc/login"' in page
    assert 'type="password"' not in page  # passwords: false (V2)
    provider.user = "support"
    done = through_provider(web)
    assert done.status_code == 303 and done.headers["location"].startswith("/console")
    queue = web.client.get("/console?lang=en")
    assert queue.status_code == 200 and "Data-subject requests" in queue.text
    assert "(support)" in queue.text  # signed in as the provider's user


def test_someone_without_an_account_or_a_forged_state_is_refused(
    oidc_web: Web, provider: Provider
) -> None:
    web = oidc_web
    provider.user = "mallory"
    refused = through_provider(web)
    assert refused.status_code == 401 and "Inloggningen misslyckades" in refused.text
    assert web.client.get("/console", follow_redirects=False).status_code == 303
    forged = web.client.get("/console/oidc/callback?code=x&state=y")
    assert forged.status_code == 401


def test_without_a_provider_there_is_no_provider_button(sqlite_web: Web) -> None:
    page = sqlite_web.client.get("/console/sign-in").text
    assert "/console/oidc/login" not in page and 'type="password"' in page
    assert sqlite_web.client.get("/console/oidc/login").status_code == 404
