"""Publishing after commit, in one place.

Callers commit their rows first, then publish here; a failed publish is not an error for
them, because the row says what still needs sending and the beat relay sends it.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from store.db import session_scope
from store.models import InboundEvent, utcnow
from workers.app import celery_app

log = logging.getLogger(__name__)


def publish_event(row_id: int) -> bool:
    """Publish ``process_event`` for a committed event; False when the broker does not answer."""
    try:
        celery_app.send_task("kfsync.events.process_event", args=[row_id])
    except Exception:
        log.warning("broker unavailable; event %s waits for the relay", row_id, exc_info=True)
        return False
    return True


def enqueue_event(url: str, row_id: int) -> bool:
    """Publish an event stored without ``enqueued_at`` and mark it enqueued.

    Returns False (and leaves the row for the relay) when the broker does not answer.
    """
    if not publish_event(row_id):
        return False
    with session_scope(url) as s:
        s.execute(update(InboundEvent).where(InboundEvent.id == row_id)
                  .values(enqueued_at=utcnow()))
    return True


def unmark_enqueued(url: str, row_id: int) -> None:
    """The hot path marks an event enqueued in its INSERT; undo that when the publish failed,
    so the relay sends it (a crash in between is caught by the relay's lost-message rule)."""
    with session_scope(url) as s:
        s.execute(update(InboundEvent).where(InboundEvent.id == row_id)
                  .values(enqueued_at=None))
