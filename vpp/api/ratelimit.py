"""Token buckets per credential: in-process by default, or shared in Redis across workers.

Each credential may burst up to its per-minute allowance and refills continuously. The
in-process :class:`RateLimiter` keeps its buckets in the worker, so with ``--workers N`` the
effective limit is N times the setting. :class:`RedisRateLimiter` (chosen when
``VPP_REDIS_URL`` is set) keeps one bucket per credential in Redis, updated atomically by a Lua
script on Redis' own clock, so every worker and host draws on the same budget.

Redis unreachable at start-up is an error (:func:`connect_redis` says which URL failed and
what to do). Redis lost at runtime fails *open*: the request is admitted and a warning is logged
(at most once per ``WARN_EVERY_S``), because refusing every call while the limiter's store is
down would turn a protection into an outage. The database and credentials still guard access.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from vpp.api.errors import RateLimitedError, RateLimitStoreError

log = logging.getLogger("vpp.api.ratelimit")
WARN_EVERY_S = 30.0
REDIS_TIMEOUT_S = 0.5
"""Socket timeout of Redis calls [s]: a slow store must not stall every request."""

TOKEN_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local last = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - last) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(tokens)}
"""
"""Refill, then take one token if there is one; returns ``{allowed, tokens left}``."""


class Limiter(Protocol):
    """What the auth dependency needs: take one token for a key or raise 429."""

    def hit(self, key: str) -> None: ...

    def close(self) -> None: ...


def refused(per_minute: int, tokens: float) -> RateLimitedError:
    """The 429 for a bucket holding ``tokens`` (< 1) that refills ``per_minute`` a minute."""
    wait = max(1, math.ceil((1.0 - tokens) / (per_minute / 60.0)))
    return RateLimitedError(
        f"more than {per_minute} requests per minute",
        retry_after_s=wait,
        hint=f"retry after {wait} s",
    )


class RateLimiter:
    """Allow ``per_minute`` requests per key, refilled continuously, in this process."""

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
                raise refused(self.per_minute, tokens)
            self._buckets[key] = (tokens - 1.0, now)

    def close(self) -> None:
        """Nothing to release."""


def connect_redis(url: str) -> redis.Redis:
    """A client of the Redis at ``url``, checked with PING; unreachable raises at once."""
    client = redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise RateLimitStoreError(
            f"rate-limit store Redis at {_shown(url)} is unreachable: {exc}",
            hint="start Redis there, fix VPP_REDIS_URL, or unset it for in-process limits",
        ) from exc
    return client


class RedisRateLimiter:
    """Allow ``per_minute`` requests per key, shared by every process using the same Redis.

    Keys are ``prefix + key``; a bucket expires once it would have refilled completely.
    """

    def __init__(self, client: redis.Redis, per_minute: int, prefix: str = "vpp:ratelimit:"):
        self.client = client
        self.per_minute = per_minute
        self.prefix = prefix
        self._script = client.register_script(TOKEN_BUCKET_LUA)
        self._warned_at = -math.inf

    def hit(self, key: str) -> None:
        """Take one token for ``key``; raises :class:`RateLimitedError` when none is left.

        When Redis does not answer the request is admitted and a warning is logged.
        """
        try:
            allowed, tokens = self._script(
                keys=[self.prefix + key], args=[self.per_minute, self.per_minute / 60.0]
            )
        except redis.RedisError as exc:
            self._warn(exc)
            return
        if not int(allowed):
            raise refused(self.per_minute, float(tokens))

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()

    def _warn(self, exc: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate-limit store unavailable, admitting requests unlimited: %s", exc)


def build_limiter(per_minute: int, redis_url: str | None, prefix: str) -> Limiter:
    """The shared Redis limiter when ``redis_url`` is set, else the in-process one."""
    if redis_url is None:
        return RateLimiter(per_minute)
    return RedisRateLimiter(connect_redis(redis_url), per_minute, prefix)


def _shown(url: str) -> str:
    """``url`` without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user + ':***@' if user else '***@'}{host}"
