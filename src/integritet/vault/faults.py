"""Fault injection points, so tests can crash the vault after each persisted step.

Code calls :func:`point` with a stable name (``erase.ledger_appended``,
``rotate.batch_committed``, ``import.row_committed``...). Tests either register a hook
with :func:`inject` (which may raise to simulate a crash) or set the environment
variable ``INTEGRITET_FAILPOINT=<name>[:<n>]``, which makes the process kill itself with
SIGKILL the ``n``-th time (default 1st) the point is reached: a real ``kill -9`` at an
exact place. Neither is ever set in production; with nothing set a point costs one dict
lookup.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ENV = "INTEGRITET_FAILPOINT"

_hooks: list[Callable[[str], None]] = []
_hits: dict[str, int] = {}


def point(name: str) -> None:
    """Mark a persisted step; crash here if a test asked for it."""
    spec = os.environ.get(ENV)
    if spec:
        wanted, _, count = spec.partition(":")
        if wanted == name:
            _hits[name] = _hits.get(name, 0) + 1
            if _hits[name] >= int(count or "1"):
                os.kill(os.getpid(), signal.SIGKILL)
    for hook in list(_hooks):
        hook(name)


@contextmanager
def inject(hook: Callable[[str], None]) -> Iterator[None]:
    """Call ``hook(name)`` at every point while the block runs."""
    _hooks.append(hook)
    try:
        yield
    finally:
        _hooks.remove(hook)


class Crash(BaseException):
    """Raised by test hooks to simulate a crash (not an ``Exception``: nothing catches it)."""


def crash_at(name: str, nth: int = 1) -> Callable[[str], None]:
    """A hook that raises :class:`Crash` the ``nth`` time ``name`` is reached."""
    seen = 0

    def hook(reached: str) -> None:
        nonlocal seen
        if reached == name:
            seen += 1
            if seen == nth:
                raise Crash(name)

    return hook
