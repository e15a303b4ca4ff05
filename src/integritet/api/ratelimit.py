"""In-process token buckets for sign-in, code and link endpoints (429 when empty).

One bucket per (endpoint, key), where the key is the client address or the account. A
bucket holds ``capacity`` attempts and refills ``per_minute`` per minute. The state lives
in the process: behind several workers each keeps its own buckets, which still bounds
guessing to ``workers x capacity`` per minute (docs/operations.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from integritet.errors import RateLimited


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets keyed by strings; ``hit(key)`` takes one token or raises RateLimited."""

    def __init__(
        self,
        capacity: int = 10,
        per_minute: float = 10.0,
        now: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.capacity = capacity
        self.rate = per_minute / 60.0
        self.now = now
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def hit(self, *keys: str) -> None:
        """Take one token from each key's bucket; refuse when any is empty."""
        with self._lock:
            now = self.now()
            buckets = [self._bucket(key, now) for key in keys]
            empty = [b for b in buckets if b.tokens < 1.0]
            if empty:
                wait = max((1.0 - b.tokens) / self.rate for b in empty)
                raise RateLimited(max(1, math.ceil(wait)))
            for bucket in buckets:
                bucket.tokens -= 1.0

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.clear()  # bounded memory; a flood only resets the counts
            bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket
