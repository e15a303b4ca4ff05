"""Passwords (argon2id, under the manifest's password policy), TOTP and signing in.

Sign-in is :meth:`Login.password`: the account must exist and not be locked, the
password must match, and when the user's role needs MFA (``roles[].mfa`` and
``security.mfa``) a valid TOTP code too. Five failures in a row lock the account for 15
minutes. With an OpenID Connect provider that holds the passwords (``passwords: false``,
V2), password sign-in is refused and no password can be set.
"""

from __future__ import annotations

import re

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from integritet.clock import utc
from integritet.errors import AccessDenied, IdentityError
from integritet.identity.store import LOCKOUT, MAX_FAILED_LOGINS, IdentityStore, SignedIn
from integritet.identity.tables import UserRow, totp_key_id
from integritet.manifest import Manifest

_USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")

# The most common passwords of public breach lists, plus Swedish favourites. A policy with
# ``disallow_common`` refuses these (case-insensitively) and any password that is one of
# them with digits or punctuation appended.
COMMON_PASSWORDS = frozenset(
    """
    123456 123456789 12345678 1234567890 password qwerty qwertyuiop abc123 111111 123123
    1234567 password1 iloveyou admin welcome monkey dragon letmein football baseball
    sunshine princess master shadow superman michael trustno1 passw0rd whatever starwars
    hello freedom login qazwsx zaq12wsx 654321 000000 changeme secret administrator
    lösenord losenord hejsan sommar vinter varen hosten sverige stockholm göteborg malmö
    hemligt qwertyuiopå asdfghjklöä zxcvbnm correcthorsebatterystaple summer winter spring
    autumn welcome123 company companyname integritet loggamera
    """.split()
)


def check_username(username: str) -> None:
    if not _USERNAME.match(username):
        raise IdentityError(
            "a user name is 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )


def policy_problem(manifest: Manifest, username: str, password: str) -> str | None:
    """Why ``password`` breaks the manifest's password policy, or None."""
    policy = manifest.security.password_policy
    if len(password) < policy.min_length:
        return f"a password needs at least {policy.min_length} characters"
    if policy.disallow_common:
        base = password.lower().rstrip("0123456789!?.#@*-_ ")
        if password.lower() in COMMON_PASSWORDS or base in COMMON_PASSWORDS:
            return "this password is on the list of common passwords"
        if username.lower() in password.lower():
            return "a password may not contain the user name"
        if len(set(password)) < 4:
            return "a password needs more different characters"
    return None


def passwords_allowed(manifest: Manifest) -> bool:
    provider = manifest.security.identity_provider
    return provider is None or provider.passwords


def mfa_required(manifest: Manifest, role: str) -> bool:
    spec = {r.id: r for r in manifest.roles}.get(role)
    return manifest.security.mfa and (spec is None or spec.mfa)


class Login:
    """Passwords, TOTP enrolment and password sign-in over an :class:`IdentityStore`."""

    def __init__(self, store: IdentityStore) -> None:
        self.store = store
        self.manifest = store.manifest

    def set_password(self, username: str, password: str) -> None:
        if not passwords_allowed(self.manifest):
            raise IdentityError(
                "sign-in is delegated to the identity provider: integritet stores no passwords"
            )
        problem = policy_problem(self.manifest, username, password)
        if problem is not None:
            raise IdentityError(problem)
        with self.store.tx() as s:
            row = s.get(UserRow, username)
            if row is None:
                raise IdentityError(f"no user {username!r}")
            row.password_hash = self.store.hasher.hash(password)
            row.failed_logins, row.locked_until = 0, None

    def enrol_totp(self, username: str) -> str:
        """A new TOTP secret for the user (sealed at rest); returns the otpauth:// URI."""
        secret = pyotp.random_base32()
        sealed, kek = self.store.keyring.wrap(secret.encode(), totp_key_id(username))
        with self.store.tx() as s:
            row = s.get(UserRow, username)
            if row is None:
                raise IdentityError(f"no user {username!r}")
            row.totp_sealed, row.totp_kek = sealed, kek
        issuer = self.manifest.controller.service or self.manifest.controller.name
        uri: str = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)
        return uri

    def totp(self, row: UserRow) -> pyotp.TOTP | None:
        if row.totp_sealed is None or row.totp_kek is None:
            return None
        sealed, kek = row.totp_sealed, row.totp_kek
        secret = self.store.keyring.unwrap(sealed, totp_key_id(row.username), kek)
        return pyotp.TOTP(secret.decode())

    def password(self, username: str, password: str, code: str | None) -> tuple[str, SignedIn]:
        """Sign in with a password (and TOTP code); returns (session token, session)."""
        if not passwords_allowed(self.manifest):
            raise AccessDenied("sign in through the identity provider")
        now = self.store.now()
        with self.store.tx() as s:
            row = s.get(UserRow, username, with_for_update=True)
            if row is None or row.password_hash is None or row.disabled:
                self.store.hasher.hash(password)  # same work whether or not the user exists
                raise AccessDenied("wrong user name or password")
            if row.locked_until is not None and now < utc(row.locked_until):
                raise AccessDenied("too many failed sign-ins; the account is locked for now")
            problem = self._check(row, password, code)
            if problem is not None:
                row.failed_logins += 1
                if row.failed_logins >= MAX_FAILED_LOGINS:
                    row.locked_until, row.failed_logins = now + LOCKOUT, 0
            else:
                row.failed_logins, row.locked_until = 0, None
        if problem is not None:
            raise AccessDenied(problem)
        return self.store.start_session(username=username, customer=row.customer_id)

    def _check(self, row: UserRow, password: str, code: str | None) -> str | None:
        try:
            self.store.hasher.verify(row.password_hash or "", password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return "wrong user name or password"
        return self.check_mfa(row, code)

    def check_mfa(self, row: UserRow, code: str | None) -> str | None:
        """Why the second factor fails, or None (also used after OIDC sign-in)."""
        totp = self.totp(row)
        if totp is None:
            if mfa_required(self.manifest, row.role):
                return "this role needs MFA: ask an admin to run `integritet staff mfa`"
            return None
        at = self.store.now()
        if not code or not totp.verify(code.strip(), for_time=at, valid_window=1):
            return "a valid one-time code (TOTP) is required"
        return None
