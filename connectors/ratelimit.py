"""The global KashFlow rate limit: one token bucket in Redis, shared by every process.

The bucket lives in one Redis hash and is updated by an atomic Lua script that reads Redis's
own clock (``TIME``), so workers on different machines agree on time without synchronised
clocks. A 429 from KashFlow pauses the whole bucket for its ``Retry-After``: every worker
waits, not just the one that was told.

``acquire()`` blocks for short waits (the call happens in the same task) and raises
``Transient(retry_after=...)`` for long ones, so a worker slot is not held for minutes and the
task's retry (well below the broker visibility timeout) takes over.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from connectors.errors import Transient

# Returns the seconds to wait as a string ("0" = a token was taken); strings keep fractions.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'paused_until')
local tokens, ts, paused = tonumber(b[1]) or burst, tonumber(b[2]) or now, tonumber(b[3]) or 0
if paused > now then return tostring(paused - now) end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
if until_ > current then
  redis.call('HSET', KEYS[1], 'paused_until', tostring(until_), 'tokens', '0',
             'ts', tostring(until_))
end
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(math.max(until_, current) - now)
"""
MAX_BLOCKING_WAIT_S = 20.0  # longer waits become a task retry instead of a held worker slot


class TokenBucket:
    """``rate`` calls per second on average, at most ``burst`` at once, across all processes."""

    def __init__(self, redis_url: str, key: str, *, rate: float, burst: int,
                 on_wait: Callable[[float], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._pause = self._redis.register_script(_PAUSE)
        self.key, self.rate, self.burst = key, rate, burst
        self._on_wait = on_wait or (lambda _s: None)
        self._sleep = sleep

    def acquire(self, max_wait: float = MAX_BLOCKING_WAIT_S) -> float:
        """Take one token, sleeping while the bucket refills; returns the seconds waited.

        Raises:
            Transient: the wait would exceed ``max_wait`` (``retry_after`` says how long), or
                Redis is unreachable.
        """
        waited = 0.0
        while True:
            wait = self._call(self._acquire, [self.rate, self.burst])
            if wait <= 0:
                if waited:
                    self._on_wait(waited)
                return waited
            if waited + wait > max_wait:
                raise Transient(f"rate limit: next KashFlow call slot in {wait:.1f} s",
                                system="kashflow", reason="rate_limit_wait", retry_after=wait)
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> float:
        """Stop every process's calls for ``seconds`` (a 429); returns the pause remaining."""
        return self._call(self._pause, [max(0.0, seconds)])

    def _call(self, script: redis.commands.core.Script, args: list[float | int]) -> float:
        try:
            return float(script(keys=[self.key], args=args))
        except redis.RedisError as exc:
            raise Transient(f"rate limiter unavailable: {type(exc).__name__}", system="kashflow",
                            reason="rate_limiter_unavailable") from exc
