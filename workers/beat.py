"""One scheduler per deployment, enforced: ``LockedScheduler`` only sends due tasks while it
holds a Redis lock, and keeps renewing it. A second ``kfsync beat`` (a standby, or a mistake)
ticks idly until the holder dies and its lock expires, then takes over within ``LOCK_TTL_S``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import redis
from celery.beat import Scheduler

log = logging.getLogger(__name__)

LOCK_KEY = "kfsync:lock:beat"
LOCK_TTL_S = 30  # > 3 x the longest tick (beat_max_loop_interval), so a live holder never lapses
STANDBY_TICK_S = 5.0

# Take the lock if free, or renew it if ours; 1 when we hold it afterwards.
_HOLD = """
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
  return 1
end
return 0
"""


class LockedScheduler(Scheduler):  # type: ignore[misc]
    """Schedules only while it holds the deployment's beat lock. The schedule state is kept in
    memory: every periodic task here is a short-interval sweep, so nothing is lost on restart
    (and two beats on one host never fight over a schedule file)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token = uuid.uuid4().hex
        self._redis = redis.Redis.from_url(self.app.conf.broker_url, socket_timeout=5)
        self._hold = self._redis.register_script(_HOLD)
        self._holding = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            holding = bool(self._hold(keys=[LOCK_KEY], args=[self._token, LOCK_TTL_S]))
        except redis.RedisError:
            holding = False
        if holding != self._holding:
            log.warning("beat lock %s", "acquired: scheduling" if holding else
                        "held by another beat: standing by")
            self._holding = holding
        if not holding:
            return STANDBY_TICK_S
        return float(min(super().tick(*args, **kwargs), LOCK_TTL_S / 3))

    def close(self) -> None:
        if self._holding:  # hand over at once instead of after the TTL
            self._redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then "
                             "return redis.call('DEL', KEYS[1]) end return 0", 1, LOCK_KEY,
                             self._token)
        super().close()
