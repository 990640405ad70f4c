"""A token bucket per credential: simple, in-process rate limiting.

Each credential may burst up to its per-minute allowance and refills continuously. State lives
in the process, so with several workers the effective limit is per worker; a shared store is
the step after this one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from vpp.api.errors import RateLimitedError


class RateLimiter:
    """Allow ``per_minute`` requests per key, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Take one token for ``key``; raises :class:`RateLimitedError` when none is left."""
        rate = self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / rate)
                raise RateLimitedError(
                    f"more than {self.per_minute} requests per minute",
                    retry_after_s=wait,
                    hint=f"retry after {wait} s",
                )
            self._buckets[key] = (tokens - 1.0, now)
