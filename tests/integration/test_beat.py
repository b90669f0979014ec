"""Two beats at once schedule each periodic task once (real Redis, real publishing)."""

from __future__ import annotations

import time

import pytest
import redis
from celery import Celery

from workers.beat import LOCK_KEY, LockedScheduler

pytestmark = pytest.mark.integration

BEAT_REDIS_URL = "redis://127.0.0.1:6379/10"  # unit tests use 11, 12, ... (one per xdist worker)


def scheduler(app: Celery) -> LockedScheduler:
    return LockedScheduler(app=app, lazy=False)


def test_two_beats_send_each_periodic_task_once() -> None:
    client = redis.Redis.from_url(BEAT_REDIS_URL)
    client.flushdb()
    app = Celery("beat-test", broker=BEAT_REDIS_URL, set_as_current=False)
    app.conf.beat_schedule = {"tick": {"task": "kfsync.test.tick", "schedule": 0.5,
                                       "options": {"queue": "beat_test"}}}
    first, second = scheduler(app), scheduler(app)
    deadline = time.monotonic() + 3.2
    while time.monotonic() < deadline:
        first.tick()
        second.tick()
        time.sleep(0.05)
    sent = client.llen("beat_test")
    assert 5 <= sent <= 7, f"{sent} messages in 3.2 s at one per 0.5 s"
    # The holder goes away: the standby takes over and the ticks go on, still once each.
    first.close()
    before = client.llen("beat_test")
    deadline = time.monotonic() + 1.6
    while time.monotonic() < deadline:
        second.tick()
        time.sleep(0.05)
    assert 2 <= client.llen("beat_test") - before <= 4
    assert client.get(LOCK_KEY) is not None
    second.close()
    assert client.get(LOCK_KEY) is None
