"""Sign-in for the API and web UI: users, passwords + TOTP, API tokens, sessions, links.

    store = IdentityStore(engine, manifest, clock, vault.keyring)
    store.add_user("anna", "support")
    Login(store).set_password("anna", "a long passphrase")
    token, session = Login(store).password("anna", "a long passphrase", code=None)
    store.session(token).actor   # -> Actor(id="anna", kind="staff", roles=("support",))

See :mod:`integritet.identity.store` for what is kept and how it expires.
"""

from integritet.identity.passwords import Login, mfa_required, passwords_allowed, policy_problem
from integritet.identity.store import TOKEN_SCOPES, IdentityStore, SignedIn, Token

__all__ = [
    "TOKEN_SCOPES",
    "IdentityStore",
    "Login",
    "SignedIn",
    "Token",
    "mfa_required",
    "passwords_allowed",
    "policy_problem",
]
