"""Publishing after commit, in one place: every message kfsync sends to its broker goes out
through this module.

Callers commit their rows first, then publish here. A failed publish is not an error for
them: it is logged once, here, and the committed row says what still needs sending — the
event relay sends an event with no ``enqueued_at``, the stalled-job redrive restarts a job
left ``queued`` — so a broker outage delays work and loses none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from core.pairs import DEFAULT, ingest_queue
from store.db import session_scope
from store.models import InboundEvent, utcnow
from workers import eventmessage
from workers.app import celery_app
from workers.workflow import order_chain

log = logging.getLogger(__name__)


def publish_task(name: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                 queue: str | None = None, then: str = "it is not sent") -> bool:
    """Send task ``name`` after its caller's commit; False when the broker does not answer.

    ``then`` says what becomes of the work in that case, for the one warning logged here.
    """
    try:
        celery_app.send_task(name, args=list(args), kwargs=kwargs or {}, queue=queue)
    except Exception:
        log.warning("broker unavailable: %s%s not sent; %s", name, tuple(args), then,
                    exc_info=True)
        return False
    return True


def publish_chain(job_id: int, step: str, pay: bool) -> bool:
    """Start committed job ``job_id``'s chain at ``step`` (``pay``: with its payment or refund
    step); False when the broker does not answer — the job stays ``queued`` and the stalled-job
    redrive starts it once the broker is back."""
    try:
        order_chain(job_id, step, pay).apply_async()
    except Exception:
        log.warning("broker unavailable: job %s at %s waits for the redrive", job_id, step,
                    exc_info=True)
        return False
    return True


def publish_event(row_id: int, increments: Iterable[tuple[str, str, float]] = (),
                  pair: str = DEFAULT) -> bool:
    """Publish ``process_event`` for a committed event of ``pair`` (to its queue:
    ``core.pairs.ingest_queue``); False when the broker does not answer.

    The message is the one ``send_task`` would send, pushed in one round trip
    (``workers.eventmessage``: the webhook's hot path); ``increments`` are metric fields
    (``core.metrics.increment``) written in that round trip.
    """
    try:
        eventmessage.push(row_id, increments,
                          None if pair == DEFAULT else ingest_queue(pair))
    except Exception:
        log.warning("broker unavailable: kfsync.events.process_event(%s,) not sent; event %s "
                    "waits for the relay", row_id, row_id, exc_info=True)
        return False
    return True


def enqueue_event(url: str, row_id: int, pair: str | None = None) -> bool:
    """Publish an event stored without ``enqueued_at`` and mark it enqueued (``pair``: the
    event's integration pair; None: read from its row).

    Returns False (and leaves the row for the relay) when the broker does not answer.
    """
    if pair is None:
        with session_scope(url) as s:
            pair = s.scalar(select(InboundEvent.pair).where(InboundEvent.id == row_id))
    if not publish_event(row_id, pair=pair or DEFAULT):
        return False
    _set_enqueued(url, row_id, utcnow())
    return True


def mark_retry_due(url: str, row_id: int, countdown: float) -> None:
    """Event ``row_id``'s task retries in ``countdown`` seconds: its ``enqueued_at`` becomes
    when that message is due, so the relay's lost-message rule (``workers.maintenance``)
    counts from then and does not send a waiting retry again."""
    _set_enqueued(url, row_id, utcnow() + timedelta(seconds=countdown))


def publish_stored(url: str, row_id: int, pair: str,
                   increments: Iterable[tuple[str, str, float]] = ()) -> bool:
    """Publish an event its ``INSERT`` stored as enqueued (one transaction per event: the
    webhook's hot path, a poll's or a backfill's record). When the broker does not answer,
    the mark is cleared so the relay sends it (a crash in between is the relay's
    lost-message rule's). Returns whether it was published."""
    if publish_event(row_id, increments, pair):
        return True
    unmark_enqueued(url, row_id)
    return False


def unmark_enqueued(url: str, row_id: int) -> None:
    """Undo an event's enqueued mark (its publish failed), so the relay sends it."""
    _set_enqueued(url, row_id, None)


def _set_enqueued(url: str, row_id: int, at: datetime | None) -> None:
    """Event ``row_id``'s ``enqueued_at``: when its message is (or was) due; None: never
    sent, the relay's."""
    with session_scope(url) as s:
        s.execute(update(InboundEvent).where(InboundEvent.id == row_id)
                  .values(enqueued_at=at))
