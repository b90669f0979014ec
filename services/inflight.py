"""In-flight caps per integration pair: at most N of a pair's orders hold worker processes.

A pair working through a backlog at its KashFlow rate limit keeps each of its tasks in a
worker process while the task waits for its bucket; without a cap, every process ends up
waiting for that one company and the other pairs' new orders wait for a free process. With
a cap below the worker count, a task of a pair at its cap gives its event back (to the end
of the pair's queue, ``workers.context.take_slot``) and the process takes the next message,
another pair's, round-robin (``core.pairs.ingest_queue``).

The slots are one Redis sorted set per pair (task id -> expiry, Redis's clock): taking one
drops expired entries first, so a worker killed mid-task frees its slot after ``LEASE_S``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from core import redis_clients
from core.pairs import scoped_key

KEY = "kfsync:inflight"
LEASE_S = 900  # > the longest order task, bucket waits included; then a dead task's slot frees

_TAKE = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
"""


def take(redis_url: str, pair: str, task_id: str, cap: int) -> bool:
    """Take one of ``pair``'s ``cap`` slots for ``task_id`` (True), or none is free."""
    return bool(_taker(redis_url)(keys=[scoped_key(KEY, pair)], args=[task_id, cap, LEASE_S],
                                  client=redis_clients.client(redis_url)))


@cache
def _taker(redis_url: str) -> Any:
    """``_TAKE`` as a registered script: sent by its digest (``EVALSHA``), its text only once
    per Redis (again after a restart emptied the script cache)."""
    return redis_clients.client(redis_url).register_script(_TAKE)


def give_back(redis_url: str, pair: str, task_id: str) -> None:
    redis_clients.client(redis_url).zrem(scoped_key(KEY, pair), task_id)


def in_flight(redis_url: str, pair: str) -> int:
    """How many of ``pair``'s slots are taken (expired ones included until the next take)."""
    return int(redis_clients.client(redis_url).zcard(scoped_key(KEY, pair)))
