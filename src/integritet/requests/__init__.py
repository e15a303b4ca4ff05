"""Data-subject requests (issue 4): access, portability, rectification, restriction,
erasure and objection, as durable state machines with deadlines, verification and
recipient propagation. See ``docs/requests.md``.
"""

from integritet.requests.lifecycle import Kind, RequestView, Status
from integritet.requests.object import Suppressions
from integritet.requests.service import Requests, open_requests

__all__ = ["Kind", "RequestView", "Requests", "Status", "Suppressions", "open_requests"]
