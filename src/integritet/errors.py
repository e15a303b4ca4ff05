"""One exception tree for integritet.

Every error the product raises on purpose derives from :class:`IntegritetError`.
Messages never contain personal data: they name ids, keys, categories and
purposes, never the values behind them. The CLI turns these into one clear
line and an exit code; the API turns them into a problem response.
"""

from __future__ import annotations


class IntegritetError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigError(IntegritetError):
    """Settings or environment are unusable (bad URL, missing key file...)."""


class ManifestError(IntegritetError):
    """The policy manifest cannot be loaded. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class VaultError(IntegritetError):
    """Something went wrong in the personal-data vault."""


class NotFound(IntegritetError):
    """A subject, record, request or other object does not exist."""


class AccessDenied(IntegritetError):
    """The actor, role or purpose may not do this; ``reason`` says why."""

    exit_code = 3

    def __init__(self, reason: str) -> None:
        super().__init__(f"access denied: {reason}")
        self.reason = reason


class SubjectRestricted(AccessDenied):
    """The subject's processing is restricted (Art. 18): storage only."""


class KeyDestroyed(VaultError):
    """The key was destroyed on purpose (erasure). Final: the data is gone."""


class KeyUnavailable(VaultError):
    """The key cannot be reached right now (missing key file, wrong KEK). Retry."""

    exit_code = 4


class DuplicateSubject(VaultError):
    """Another subject already has this identity; ``subject_id`` is theirs (pseudonymous)."""

    def __init__(self, kind: str, subject_id: str) -> None:
        super().__init__(f"a subject with this {kind} already exists ({subject_id})")
        self.kind = kind
        self.subject_id = subject_id


class AuditChainBroken(IntegritetError):
    """The audit chain failed verification; ``position`` is the first bad row."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"audit chain broken at position {position}: {reason}")
        self.position = position
        self.reason = reason


class RequestError(IntegritetError):
    """A data-subject request cannot move as asked (wrong state, missing step)."""


class ConsentError(IntegritetError):
    """A consent operation is invalid (unknown purpose or channel...)."""


class ConnectorError(IntegritetError):
    """A connected system (database, webhook, mail server) failed."""


class PIIInputError(IntegritetError):
    """Input to the PII scanner is unusable (bad JSONL line, unreadable file...)."""


class AuditFileError(IntegritetError):
    """An audit checkpoint file cannot be read or is not one."""


class VerificationFailed(RequestError):
    """A one-time code is wrong, expired, used up or asked for too often."""

    exit_code = 5


class OutputExists(IntegritetError):
    """A command would overwrite an existing file; ``--force`` allows it."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} already exists; pass --force to overwrite it")
        self.path = path


class TelemetryError(IntegritetError):
    """Telemetry input or a telemetry operation is unusable (unknown machine, bad record...)."""


class IdentityError(IntegritetError):
    """A user, token or password cannot be set up as asked (unknown role, weak password...)."""


class NotSignedIn(IntegritetError):
    """The call needs a signed-in user, a session or an API token, and has none."""

    exit_code = 3


class RateLimited(IntegritetError):
    """Too many attempts from this address or for this account; ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after} s")
        self.retry_after = retry_after


class DisclosureRefused(AccessDenied):
    """The manifest or the person's choices do not allow handing this data to this recipient."""


class ResidencyError(AccessDenied):
    """Data would be stored outside the declared locations or the customer's chosen one."""
