"""Per-tenant token buckets behind one interface: in-process by default, Redis when
settings.redis_url is set (so that every API replica draws from the same bucket)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

from sentimentops.core.logging import get_logger

log = get_logger("sentimentops.ratelimit")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Seconds until one token is available again; 0 when allowed.
    retry_after: float


class RateLimiter(Protocol):
    # Whether acquire waits on the network (Redis): then callers on the event loop call it
    # in a worker thread; an in-memory limiter answers on the loop.
    blocking: bool

    def acquire(self, key: str, *, rate: float, burst: int) -> Decision:
        """Take one token from `key`'s bucket (refilled at `rate`/s, holding at most `burst`)."""
        ...

    def close(self) -> None: ...


def retry_after_header(decision: Decision) -> int:
    """Whole seconds for the Retry-After header, never 0 for a refusal."""
    return max(1, math.ceil(decision.retry_after))


class InProcessRateLimiter:
    """Buckets in this process's memory; right for one API process (the embedded default)."""

    # Buckets untouched this long are full again and are dropped, so memory stays bounded by
    # the number of recently active tenants.
    IDLE_SECONDS = 3600.0
    blocking = False

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def acquire(self, key: str, *, rate: float, burst: int) -> Decision:
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                decision = Decision(True, 0.0)
            else:
                self._buckets[key] = (tokens, now)
                decision = Decision(False, (1.0 - tokens) / rate)
            if now - self._last_sweep > self.IDLE_SECONDS:
                self._sweep(now)
            return decision

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for key in [k for k, (_, last) in self._buckets.items() if now - last > self.IDLE_SECONDS]:
            del self._buckets[key]

    def close(self) -> None:
        self._buckets.clear()


# Atomic refill-and-take on the server, with the server's clock (replicas' clocks may differ).
# Returns {allowed, retry_after in milliseconds}.
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
"""


class RedisRateLimiter:
    """Buckets in Redis, shared by every API replica."""

    blocking = True

    def __init__(self, url: str, *, namespace: str = "sentimentops:ratelimit") -> None:
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self._script = self._client.register_script(_BUCKET_SCRIPT)
        self._namespace = namespace

    def acquire(self, key: str, *, rate: float, burst: int) -> Decision:
        try:
            result = self._script(keys=[f"{self._namespace}:{key}"], args=[rate, burst])
        except redis.RedisError as exc:
            # Fail open: an unreachable Redis must not take the whole API down with it; the
            # outage is logged loudly and /readyz-level monitoring catches it.
            log.warning("ratelimit.redis_unavailable", error=str(exc))
            return Decision(True, 0.0)
        allowed, wait_ms = (int(v) for v in result)
        return Decision(bool(allowed), wait_ms / 1000.0)

    def close(self) -> None:
        self._client.close()


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    """The backend the settings ask for."""
    return RedisRateLimiter(redis_url) if redis_url else InProcessRateLimiter()
