"""Admin commands for sign-in: staff users, passwords, TOTP, API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from integritet.cli.app import app
from integritet.cli.common import PolicyOption, err, load_policy, out
from integritet.settings import get_settings

if TYPE_CHECKING:
    from integritet.services import Services

staff_app = typer.Typer(help="Staff users: add, password, MFA, list.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for systems: create, revoke, list.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
app.add_typer(token_app, name="token")


@contextmanager
def _services(policy: PolicyOption) -> Iterator[Services]:
    from integritet.services import Services

    services = Services.open(get_settings(), load_policy(policy), notify=err.print)
    try:
        yield services
    finally:
        services.close()


@staff_app.command("add")
def add(
    user: Annotated[str, typer.Argument(help="User name (lower case).")],
    role: Annotated[str, typer.Option("--role", help="A role of the manifest.")],
    customer: Annotated[
        str | None, typer.Option(help="The customer the user belongs to (customer admins).")
    ] = None,
    assign_customer: Annotated[
        list[str] | None, typer.Option(help="Assign a customer (technicians, C4).")
    ] = None,
    assign_machine: Annotated[
        list[str] | None, typer.Option(help="Assign a machine (technicians, C4).")
    ] = None,
    policy: PolicyOption = None,
) -> None:
    """Add a user with a manifest role; set the password with `staff password`."""
    with _services(policy) as services:
        identity = services.identity
        kind = "customer" if customer else "staff"
        identity.add_user(user, role, customer=customer, kind=kind)
        for ref in assign_customer or []:
            identity.assign(user, "customer", ref)
        for ref in assign_machine or []:
            identity.assign(user, "machine", ref)
    out.print(f"added {user} ({role})")


@staff_app.command("password")
def password(
    user: Annotated[str, typer.Argument(help="User name.")],
    policy: PolicyOption = None,
) -> None:
    """Set a user's password (asked twice, never echoed), under the manifest's policy."""
    value = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    with _services(policy) as services:
        services.login.set_password(user, value)
        ended = services.identity.end_sessions_of(user)
    out.print(f"password set for {user}; {ended} open sessions ended")


@staff_app.command("mfa")
def mfa(
    user: Annotated[str, typer.Argument(help="User name.")],
    policy: PolicyOption = None,
) -> None:
    """Enrol (or replace) the user's TOTP authenticator; prints the otpauth:// URI once."""
    with _services(policy) as services:
        uri = services.login.enrol_totp(user)
    out.print(uri, markup=False, highlight=False)
    err.print("scan it into an authenticator app; it is not shown again")


@staff_app.command("list")
def list_users(policy: PolicyOption = None) -> None:
    """Users with role, customer and whether MFA is enrolled (no secrets)."""
    with _services(policy) as services:
        for row in services.identity.users():
            totp = "mfa" if row.totp_sealed else "no-mfa"
            out.print(f"{row.username}\t{row.role}\t{row.customer_id or '-'}\t{totp}")


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="A name for the token (a system's name).")],
    scope: Annotated[list[str], typer.Option("--scope", help="An action the token may use.")],
    owner: Annotated[str | None, typer.Option(help="Act as this user (their role).")] = None,
    policy: PolicyOption = None,
) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    with _services(policy) as services:
        value = services.identity.create_token(name, scope, owner)
    out.print(value, markup=False, highlight=False)
    err.print("store it now: it is not shown again")


@token_app.command("revoke")
def revoke_token(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    policy: PolicyOption = None,
) -> None:
    """Revoke a token: from now on every call with it is refused."""
    with _services(policy) as services:
        services.identity.revoke_token(name)
    out.print(f"revoked {name}")


@token_app.command("list")
def list_tokens(policy: PolicyOption = None) -> None:
    """Tokens with scopes and state (no values)."""
    with _services(policy) as services:
        for row in services.identity.tokens():
            state = "revoked" if row.revoked_at else "active"
            out.print(f"{row.name}\t{row.scopes}\t{state}")
