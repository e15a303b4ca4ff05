"""Who is signed in: staff and customer users, API tokens, sessions and subject links.

Nothing secret is stored in plaintext:

- passwords are argon2id hashes (argon2-cffi), checked against the manifest's
  ``security.password_policy``; with an OpenID Connect provider whose ``passwords`` is
  false no password is stored at all (V2);
- TOTP secrets are sealed under the vault's key-encryption key (AES-256-GCM) and
  re-wrapped by ``integritet keys rotate`` (see :mod:`integritet.identity.tables`);
- API tokens, session tokens and subject-link tokens are 256-bit random values of which
  only the SHA-256 is kept: a stolen database opens no session.

Sessions expire after ``security.sessions.idle_timeout`` without use and after
``absolute_timeout`` in any case; ending one (log out, V7) kills it server-side. Subject
links are single use and short-lived. Time comes from the injected clock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from integritet.access import Actor
from integritet.clock import Clock, utc
from integritet.consent.cache import DecisionCache
from integritet.errors import AccessDenied, IdentityError, NotFound
from integritet.identity.tables import (
    AssignmentRow,
    SessionRow,
    SubjectLinkRow,
    TokenRow,
    UserRow,
)
from integritet.manifest import Manifest
from integritet.manifest.model import ACTIONS
from integritet.vault.keys import KeyRing

SUBJECT_LINK_TTL = timedelta(minutes=15)
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_SCOPES = ACTIONS  # a token's scopes are the manifest's staff actions


@dataclass(frozen=True)
class Token:
    """An API token as the API sees it: who it acts as and which actions it may use."""

    name: str
    actor: Actor
    scopes: frozenset[str]


@dataclass(frozen=True)
class SignedIn:
    """A live session: the actor, its session id, and when it ends at the latest."""

    session_id: str
    actor: Actor
    expires_at: datetime


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class IdentityStore:
    """Users, tokens, sessions and subject links on one database."""

    def __init__(self, engine: Engine, manifest: Manifest, clock: Clock, keyring: KeyRing) -> None:
        self.engine = engine
        self.manifest = manifest
        self.clock = clock
        self.keyring = keyring
        self.hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
        # verified tokens, valid while the SQLite file is unchanged (a revocation, a new
        # assignment of the owner... is a commit, so the next call reads the database)
        self._tokens: DecisionCache[bytes, Token] = DecisionCache(engine)

    def close(self) -> None:
        """Close the token cache's own connection (the engine is the caller's)."""
        self._tokens.close()

    @contextmanager
    def tx(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def now(self) -> datetime:
        return utc(self.clock.now())

    # ------------------------------------------------------------------ users

    def add_user(
        self,
        username: str,
        role: str,
        *,
        customer: str | None = None,
        kind: str = "staff",
    ) -> None:
        """A staff user (or a customer's user, ``kind="customer"``) with a manifest role."""
        from integritet.identity.passwords import check_username

        check_username(username)
        spec = {r.id: r for r in self.manifest.roles}.get(role)
        if spec is None:
            known = ", ".join(r.id for r in self.manifest.roles) or "none"
            raise IdentityError(f"role {role!r} is not in the manifest (roles: {known})")
        if spec.scope.value == "own_customer" and customer is None:
            raise IdentityError(f"role {role!r} reaches its own customer only: give --customer")
        with self.tx() as s:
            if s.get(UserRow, username) is not None:
                raise IdentityError(f"user {username!r} already exists")
            s.add(
                UserRow(
                    username=username,
                    kind=kind,
                    role=role,
                    customer_id=customer,
                    failed_logins=0,
                    disabled=False,
                    created_at=self.now(),
                )
            )

    def user(self, username: str) -> UserRow:
        with self.tx() as s:
            row = s.get(UserRow, username)
        if row is None:
            raise NotFound(f"no user {username!r}")
        return row

    def users(self) -> list[UserRow]:
        with self.tx() as s:
            return list(s.scalars(select(UserRow).order_by(UserRow.username)))

    def assign(self, username: str, kind: str, ref: str) -> None:
        """Assign a customer (``kind="customer"``) or a machine to a user (C4)."""
        if kind not in ("customer", "machine"):
            raise IdentityError("an assignment is to a customer or a machine")
        self.user(username)
        with self.tx() as s:
            if s.get(AssignmentRow, (username, kind, ref)) is None:
                s.add(AssignmentRow(username=username, kind=kind, ref=ref))

    def unassign(self, username: str, kind: str, ref: str) -> None:
        with self.tx() as s:
            row = s.get(AssignmentRow, (username, kind, ref))
            if row is not None:
                s.delete(row)

    def actor(self, username: str) -> Actor:
        """The access-control actor of a user, with role, customer and assignments."""
        row = self.user(username)
        if row.disabled:
            raise AccessDenied(f"user {username!r} is disabled")
        with self.tx() as s:
            links = list(s.scalars(select(AssignmentRow).where(AssignmentRow.username == username)))
        return Actor(
            id=username,
            kind="customer" if row.kind == "customer" else "staff",
            roles=(row.role,),
            customer=row.customer_id,
            assigned_customers=frozenset(a.ref for a in links if a.kind == "customer"),
            assigned_machines=frozenset(a.ref for a in links if a.kind == "machine"),
        )

    # ------------------------------------------------------------------ tokens

    def create_token(self, name: str, scopes: Iterable[str], owner: str | None = None) -> str:
        """A new API token; the value is returned once and only its hash is kept."""
        wanted = sorted(set(scopes))
        unknown = [s for s in wanted if s not in TOKEN_SCOPES]
        if unknown or not wanted:
            raise IdentityError(
                f"unknown or missing scope {unknown or ''}; use {', '.join(TOKEN_SCOPES)}"
            )
        if owner is not None:
            self.user(owner)
        value = "itk_" + new_token()
        with self.tx() as s:
            if s.scalar(select(TokenRow.id).where(TokenRow.name == name)) is not None:
                raise IdentityError(f"a token named {name!r} already exists")
            s.add(
                TokenRow(
                    id=secrets.token_hex(16),
                    name=name,
                    digest=digest(value),
                    scopes=" ".join(wanted),
                    owner=owner,
                    created_at=self.now(),
                )
            )
        return value

    def revoke_token(self, name: str) -> None:
        with self.tx() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.name == name))
            if row is None:
                raise NotFound(f"no token named {name!r}")
            if row.revoked_at is None:
                row.revoked_at = self.now()

    def tokens(self) -> list[TokenRow]:
        with self.tx() as s:
            return list(s.scalars(select(TokenRow).order_by(TokenRow.name)))

    def token(self, value: str) -> Token | None:
        """The live token with this value, or None (unknown or revoked)."""
        key = digest(value)
        cached, version = self._tokens.lookup(key)
        if cached is not None:
            return cached
        with self.tx() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.digest == key))
        if row is None or row.revoked_at is not None:
            return None
        actor = self.actor(row.owner) if row.owner else Actor.system(f"token:{row.name}")
        found = Token(row.name, actor, frozenset(row.scopes.split()))
        self._tokens.store(key, found, version)
        return found

    # ------------------------------------------------------------------ sessions

    def start_session(
        self,
        *,
        username: str | None = None,
        subject: str | None = None,
        customer: str | None = None,
    ) -> tuple[str, SignedIn]:
        """A new session for a user or a data subject; returns (token, session)."""
        policy = self.manifest.security.sessions
        now = self.now()
        value = new_token()
        row = SessionRow(
            id=secrets.token_hex(16),
            digest=digest(value),
            username=username,
            subject_id=subject,
            customer_id=customer,
            created_at=now,
            last_seen_at=now,
            expires_at=policy.absolute_timeout.after(now),
        )
        with self.tx() as s:
            s.add(row)
        return value, SignedIn(row.id, self._session_actor(row), row.expires_at)

    def session(self, value: str) -> SignedIn | None:
        """The live session for a token, touched; None when unknown, ended or expired."""
        policy = self.manifest.security.sessions
        now = self.now()
        with self.tx() as s:
            row = s.scalar(select(SessionRow).where(SessionRow.digest == digest(value)))
            if row is None or row.ended_at is not None:
                return None
            idle_end = policy.idle_timeout.after(utc(row.last_seen_at))
            if now >= utc(row.expires_at) or now >= idle_end:
                row.ended_at = now
                return None
            row.last_seen_at = now
        return SignedIn(row.id, self._session_actor(row), utc(row.expires_at))

    def end_session(self, session_id: str) -> None:
        """Log out: the session is dead server-side from now on (V7)."""
        with self.tx() as s:
            row = s.get(SessionRow, session_id)
            if row is not None and row.ended_at is None:
                row.ended_at = self.now()

    def end_sessions_of(self, username: str) -> int:
        with self.tx() as s:
            rows = s.scalars(
                select(SessionRow).where(
                    SessionRow.username == username, SessionRow.ended_at.is_(None)
                )
            )
            count = 0
            for row in rows:
                row.ended_at = self.now()
                count += 1
        return count

    def _session_actor(self, row: SessionRow) -> Actor:
        if row.subject_id is not None:
            return Actor.subject(row.subject_id, customer=row.customer_id)
        assert row.username is not None
        return self.actor(row.username)

    # ------------------------------------------------------------------ subject links

    def create_subject_link(self, subject_id: str, customer: str | None = None) -> str:
        """A one-time sign-in token for a data subject (emailed as a link)."""
        value = new_token()
        now = self.now()
        with self.tx() as s:
            s.add(
                SubjectLinkRow(
                    digest=digest(value),
                    subject_id=subject_id,
                    customer_id=customer,
                    created_at=now,
                    expires_at=now + SUBJECT_LINK_TTL,
                )
            )
        return value

    def redeem_subject_link(self, value: str) -> tuple[str, SignedIn]:
        """Use a link once: a subject session, or :class:`AccessDenied`."""
        now = self.now()
        with self.tx() as s:
            row = s.get(SubjectLinkRow, digest(value), with_for_update=True)
            if row is None or row.used_at is not None or now >= utc(row.expires_at):
                raise AccessDenied("this sign-in link is not valid: unknown, used or expired")
            row.used_at = now
            subject, customer = row.subject_id, row.customer_id
        return self.start_session(subject=subject, customer=customer)
