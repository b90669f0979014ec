"""Periodic upkeep run by beat on the ``maintenance`` queue.

``relay_events``: webhooks committed while Redis was unreachable have no ``enqueued_at``;
publish them now. A grace period keeps the relay from racing the web process, which marks
an event enqueued right after its commit.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from sqlalchemy import select

from store.db import session_scope
from store.models import InboundEvent, utcnow
from workers import context
from workers.app import celery_app
from workers.dispatch import enqueue_event

RELAY_GRACE_S = 30  # longer than the web process needs to publish and mark an event
RELAY_BATCH = 500
RELAY_LOCK_S = 120  # one relay at a time, even if beat fires while a slow run goes on


@celery_app.task(name="kfsync.maintenance.relay_events")
def relay_events() -> int:
    """Publish stored events that were never enqueued; returns how many were sent."""
    settings = context.settings()
    lock = redis.Redis.from_url(settings.redis_url).lock(
        "kfsync:lock:relay_events", timeout=RELAY_LOCK_S, blocking=False)
    if not lock.acquire():
        return 0
    try:
        return relay_pending(settings.database_url, RELAY_GRACE_S)
    finally:
        lock.release()


def relay_pending(url: str, grace_s: float) -> int:
    cutoff = utcnow() - timedelta(seconds=grace_s)
    with session_scope(url) as s:
        ids = list(s.scalars(
            select(InboundEvent.id)
            .where(InboundEvent.enqueued_at.is_(None), InboundEvent.processed_at.is_(None),
                   InboundEvent.received_at <= cutoff)
            .order_by(InboundEvent.id).limit(RELAY_BATCH)))
    sent = 0
    for row_id in ids:
        if not enqueue_event(url, row_id):
            break  # the broker is still down: try again next tick
        sent += 1
    return sent
