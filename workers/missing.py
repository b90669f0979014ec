"""An order webhook for an order Magento does not have: held for review, never dropped.

A webhook is only a hint; when the order it names is not in the Magento kfsync reads
(``KFSYNC_MAGENTO_BASE_URL``), the usual causes are a webhook source pointed at another shop
or store view, a test order deleted since, or a replica that has not caught up. None of them
is for kfsync to guess, so the order gets a job in ``needs_review`` with the reason and a
review letter (``error_class`` ``not_found``): it shows in ``kfsync jobs``, ``kfsync dlq``
and the dashboard. A requeue reads the order from Magento again (``refetch_event``); a later
webhook or the catch-up poll that finds it syncs it as usual.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import pairs
from store.db import session_scope
from store.models import DeadLetter, InboundEvent, JobState, Step, SyncJob
from workers.deadletters import Letter, add_dead_letter, announce

NOT_FOUND = "not_found"


def missing_reason(entity_id: str, increment_id: str | None) -> str:
    named = f" (order {increment_id})" if increment_id else ""
    return (f"Magento has no order with entity_id {entity_id}{named}: the webhook may come "
            "from another shop or store than KFSYNC_MAGENTO_BASE_URL, or the order was "
            "deleted; requeue reads it from Magento again")


def hold_missing_order(url: str, entity_id: str, event_id: int | None) -> str:
    """Record that Magento has no order ``entity_id``; returns the event's outcome line.

    No job yet: one is created in ``needs_review`` with a review letter. A job that exists
    and was never fetched (an earlier webhook for the same missing order) keeps one open
    letter. A job that was synced before is left as it is (the order vanished later).
    """
    letter: Letter | None = None
    with session_scope(url) as s:
        ref = _increment_id(s, event_id)
        reason = missing_reason(entity_id, ref)
        job = s.scalar(select(SyncJob).where(SyncJob.kind == "order",
                                             SyncJob.magento_key == entity_id,
                                             SyncJob.pair == pairs.current()))
        if job is not None and job.document is not None:
            return (f"order {entity_id} not found in Magento; its job {job.id} "
                    f"({job.state}) is left as it is")
        if job is None:
            job = SyncJob(kind="order", magento_key=entity_id, magento_ref=ref,
                          pair=pairs.current(),
                          step=Step.ENSURE_CUSTOMER, event_id=event_id)
            s.add(job)
        job.state, job.reason = JobState.NEEDS_REVIEW, reason
        job.magento_ref = job.magento_ref or ref
        s.flush()
        if not _has_open_letter(s, job.id):
            letter = add_dead_letter(s, job_id=job.id, step="process_event",
                                     error_class=NOT_FOUND, reason=reason)
        job_id = job.id
    if letter is not None:
        announce(letter, "needs_review")
    return f"order {entity_id} not found in Magento: job {job_id} held for review"


def refetch_event(s: Session, job: SyncJob) -> int:
    """A replay event that reads ``job``'s order from Magento again (the requeue of a job
    whose order was never fetched: there is no document to resume from). Returns its id."""
    event = InboundEvent(source="replay", event_id=str(uuid.uuid4()), topic="order.updated",
                         resource_type="order", resource_key=job.magento_key,
                         increment_id=job.magento_ref, payload={"requeue_job": job.id})
    s.add(event)
    s.flush()
    return int(event.id)


def _increment_id(s: Session, event_id: int | None) -> str | None:
    if event_id is None:
        return None
    return s.scalar(select(InboundEvent.increment_id).where(InboundEvent.id == event_id))


def _has_open_letter(s: Session, job_id: int) -> bool:
    return s.scalar(select(DeadLetter.id).where(DeadLetter.job_id == job_id,
                                                DeadLetter.resolved_at.is_(None))) is not None
