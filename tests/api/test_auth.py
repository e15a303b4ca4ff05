"""Sign-in flows: password + TOTP, lockout, rate limits, session expiry, logout, CSRF,
token scopes and revocation, one-time subject links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from integritet.api.auth import CSRF_HEADER, SESSION_COOKIE
from integritet.errors import IdentityError
from integritet.identity.tables import SessionRow, TokenRow, UserRow
from integritet.manifest.model import Duration

from .conftest import PASSWORD, Env

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def test_password_and_totp_sign_in(env: Env) -> None:
    body = env.login("dpo")
    assert body["actor"] == "staff:dpo" and len(body["csrf_token"]) == 40
    assert env.client.cookies.get(SESSION_COOKIE) == body["session_token"]
    me = env.client.get(ME).json()
    assert me["roles"] == ["dpo"] and me["kind"] == "staff"
    # the same password without the code, or with a wrong code, is refused
    env.client.cookies.clear()
    plain = env.client.post(LOGIN, json={"username": "dpo", "password": PASSWORD})
    assert plain.status_code == 403 and "TOTP" in plain.json()["detail"]
    wrong = env.client.post(LOGIN, json={"username": "dpo", "password": PASSWORD, "code": "000000"})
    assert wrong.status_code == 403


def test_secrets_are_not_stored_in_plaintext(env: Env) -> None:
    token = env.login("support")["session_token"]
    with Session(env.services.vault.engine) as s:
        user = s.get(UserRow, "support")
        assert user is not None and user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert user.totp_sealed is not None and env.totp["support"].encode() not in user.totp_sealed
        sessions = list(s.scalars(select(SessionRow.digest)))
        tokens = list(s.scalars(select(TokenRow.digest)))
    assert token.encode() not in b"".join(sessions)
    assert env.tokens["admin"].encode() not in b"".join(tokens)


def test_wrong_passwords_lock_the_account(env: Env) -> None:
    for _ in range(5):
        response = env.client.post(LOGIN, json={"username": "tech_a", "password": "wrong-wrong"})
        assert response.status_code == 403
    locked = env.client.post(LOGIN, json={"username": "tech_a", "password": PASSWORD})
    assert locked.status_code == 403 and "locked" in locked.json()["detail"]
    env.clock.advance(timedelta(minutes=16))
    assert env.login("tech_a")["session_token"]  # password and TOTP code: 200 again


def test_sign_in_is_rate_limited(env: Env) -> None:
    codes = [
        env.client.post(LOGIN, json={"username": f"nobody{i}", "password": "x"}).status_code
        for i in range(11)
    ]
    assert codes[:10] == [403] * 10
    assert codes[10] == 429
    limited = env.client.post(LOGIN, json={"username": "admin_a", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_session_expires_when_idle_and_absolutely(env: Env) -> None:
    idle = env.services.manifest.security.sessions.idle_timeout
    env.login("admin_a")
    env.clock.advance(timedelta(minutes=20))
    assert env.client.get(ME).status_code == 200  # used: the idle timer restarts
    env.clock.advance(timedelta(minutes=idle.amount + 1))
    assert env.client.get(ME).status_code == 401
    # absolute: a session used every 25 minutes still ends after absolute_timeout
    store = env.services.identity
    sessions = env.services.manifest.security.sessions.model_copy(
        update={"absolute_timeout": Duration.parse("2h")}
    )
    security = store.manifest.security.model_copy(update={"sessions": sessions})
    store.manifest = store.manifest.model_copy(update={"security": security})
    env.client.cookies.clear()
    env.login("admin_a")
    answers = []
    for _ in range(6):
        env.clock.advance(timedelta(minutes=25))
        answers.append(env.client.get(ME).status_code)
    assert answers == [200, 200, 200, 200, 401, 401]


def test_logout_kills_the_session_server_side(env: Env) -> None:
    body = env.login("admin_a")
    token = body["session_token"]
    without_csrf = env.client.post("/api/v1/auth/logout")
    assert without_csrf.status_code == 403 and "CSRF" in without_csrf.json()["detail"]
    done = env.client.post("/api/v1/auth/logout", headers={CSRF_HEADER: body["csrf_token"]})
    assert done.status_code == 204
    # the old token no longer works, as cookie or as bearer
    env.client.cookies.clear()
    env.client.cookies.set(SESSION_COOKIE, token)
    assert env.client.get(ME).status_code == 401
    env.client.cookies.clear()
    assert env.client.get(ME, headers=env.bearer(token)).status_code == 401


def test_token_scopes_and_revocation(env: Env) -> None:
    sid = env.subjects["alice"]
    path = f"/api/v1/subjects/{sid}/identities?purpose=account"
    reader = env.bearer(env.tokens["reader"])
    assert env.client.get(path, headers=reader).json() == {"email": "alice@example.se"}
    write = env.client.post(
        f"/api/v1/subjects/{sid}/events", json={"event": "last_login"}, headers=reader
    )
    assert write.status_code == 403 and "scope 'write'" in write.json()["detail"]
    env.services.identity.revoke_token("reader")
    assert env.client.get(path, headers=reader).status_code == 401
    assert env.client.get(path, headers=env.bearer("itk_forged")).status_code == 401
    with pytest.raises(IdentityError):
        env.services.identity.create_token("bad", ["root"])


def test_subject_link_is_single_use_and_short_lived(env: Env) -> None:
    accepted = env.client.post("/api/v1/auth/subject-link", json={"email": "ALICE@example.se"})
    unknown = env.client.post("/api/v1/auth/subject-link", json={"email": "nobody@example.se"})
    assert accepted.status_code == unknown.status_code == 202
    assert accepted.json() == unknown.json()  # no way to tell who is known
    assert len(env.mailer.sent) == 1
    to, _subject, text = env.mailer.sent[0]
    assert to == "ALICE@example.se" and "15 min" in text
    token = text.split("/auth/subject-link/")[1].split()[0]
    page = env.client.get(f"/api/v1/auth/subject-link/{token}")
    assert page.status_code == 200 and "<form" in page.text  # GET does not use it up
    first = env.client.post(f"/api/v1/auth/subject-link/{token}")
    assert first.status_code == 200 and first.json()["actor"] == f"subject:{env.subjects['alice']}"
    ids = env.client.get(f"/api/v1/subjects/{env.subjects['alice']}/identities?purpose=account")
    assert ids.json() == {"email": "alice@example.se"}
    other = env.client.get(f"/api/v1/subjects/{env.subjects['bob']}/identities?purpose=account")
    assert other.status_code == 403
    assert env.client.post(f"/api/v1/auth/subject-link/{token}").status_code == 403
    late = env.services.identity.create_subject_link(env.subjects["bob"])
    env.clock.advance(timedelta(minutes=16))
    assert env.client.post(f"/api/v1/auth/subject-link/{late}").status_code == 403


def test_password_policy_is_the_manifests(env: Env) -> None:
    login = env.services.login
    for weak, why in (
        ("short", "at least"),
        ("password123456", "common"),
        ("support-secret-1", "user name"),
    ):
        with pytest.raises(IdentityError, match=why):
            login.set_password("support", weak)
    with pytest.raises(IdentityError, match="not in the manifest"):
        env.services.identity.add_user("eve", "root")
