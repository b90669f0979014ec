"""``kfsync.events.process_event``: turn a stored webhook into work.

A webhook is only a hint: the worker re-fetches the order from Magento, decides by its state
and totals, upserts the one ``SyncJob`` for that order, and starts the chain only when the
job moves from idle (new, waiting, skipped, review, dead) to queued — a repeated webhook for
an order in flight or done starts nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.errors import AuthFailed, NotFound, Transient
from mappings.errors import MappingError
from mappings.magento import parse_order
from mappings.orders import decide
from store.db import session_scope
from store.models import InboundEvent, JobState, Step, SyncJob, utcnow
from workers import context
from workers.app import celery_app
from workers.deadletters import dead_letter, resolve_dead_letters
from workers.steps import backoff
from workers.workflow import order_chain

log = logging.getLogger(__name__)

IDLE_BY_VERDICT = {"wait": JobState.WAITING, "skip": JobState.SKIPPED,
                   "review": JobState.NEEDS_REVIEW}

ORDER_TOPICS = ("order.created", "order.updated", "invoice.created")
IDLE_STATES = (JobState.WAITING, JobState.SKIPPED, JobState.NEEDS_REVIEW, JobState.DEAD)


@celery_app.task(bind=True, name="kfsync.events.process_event")
def process_event(self: Task, event_id: int) -> None:
    url = context.db_url()
    with session_scope(url) as s:
        event = s.get(InboundEvent, event_id)
        if event is None or event.processed_at is not None:
            return
        topic, key, kind = event.topic, event.resource_key, event.resource_type
    try:
        outcome = _dispatch(topic, kind, key, event_id)
    except Transient as exc:
        if self.request.retries < context.settings().max_retries:
            raise self.retry(countdown=backoff(self.request.retries, exc.retry_after),
                             max_retries=None) from exc
        outcome = _give_up(url, event_id, exc, "transient")
    except AuthFailed as exc:
        outcome = _give_up(url, event_id, exc, "auth")
    with session_scope(url) as s:
        event = s.get(InboundEvent, event_id)
        assert event is not None
        event.processed_at, event.outcome = utcnow(), outcome[:255]


def _dispatch(topic: str, kind: str, key: str, event_id: int) -> str:
    """Route one event to its handler; returns the outcome line stored on the event."""
    if topic in ORDER_TOPICS and kind == "order":
        return sync_order(key, event_id)
    if topic in ORDER_TOPICS:
        # An invoice's own id is not its order's; the order's update (webhook or the
        # catch-up poll, which reads orders by updated_at) brings the order itself.
        return f"{topic} for a {kind}: the order is synced from its own update"
    return f"accepted; no handler for {topic} in this version"


def _give_up(url: str, event_id: int, exc: Exception, error_class: str) -> str:
    dead_letter(url, event_id=event_id, step="process_event", error_class=error_class,
                reason=str(exc))
    return f"dead letter: {exc}"


def sync_order(entity_id: str, event_id: int | None = None) -> str:
    """Fetch order ``entity_id``, decide, upsert its job and start its chain if due.

    Returns a one-line outcome for the event log.
    """
    try:
        doc = context.magento().get_order(int(entity_id))
    except NotFound:
        return f"order {entity_id} not found in Magento"
    job_id, start = _upsert_job(doc, event_id)
    if start is None:
        return f"order {doc.get('increment_id')}: job {job_id} already in progress or done"
    if start.startswith("skip:") or start.startswith("wait:") or start.startswith("review:"):
        return f"order {doc.get('increment_id')}: {start}"
    with session_scope(context.db_url()) as s:
        job = s.get(SyncJob, job_id)
        assert job is not None
        step, pay = job.step, bool((job.plan or {}).get("pay"))
    order_chain(job_id, step, pay).apply_async()
    return f"order {doc.get('increment_id')}: job {job_id} queued at {step}"


def _upsert_job(doc: dict[str, Any], event_id: int | None) -> tuple[int, str | None]:
    """Create or refresh the order's job; return (job id, what to do) where None = nothing."""
    verdict, plan, reason = _verdict(doc)
    url = context.db_url()
    for _ in range(2):  # a concurrent insert of the same order: read it on the second pass
        try:
            with session_scope(url) as s:
                job = s.scalar(select(SyncJob).where(SyncJob.kind == "order",
                                                     SyncJob.magento_key == str(doc["entity_id"])))
                if job is None:
                    job = SyncJob(kind="order", magento_key=str(doc["entity_id"]),
                                  step=Step.ENSURE_CUSTOMER, state=JobState.SKIPPED)
                    s.add(job)
                elif job.state not in IDLE_STATES:
                    s.flush()
                    return job.id, None
                job.magento_ref, job.document, job.plan, job.event_id = (
                    doc.get("increment_id"), doc, plan, event_id)
                if verdict == "invoice":
                    if job.state == JobState.DEAD:
                        resolve_dead_letters(s, job.id, "replayed")
                    job.state, job.reason = JobState.QUEUED, None
                else:
                    job.state = IDLE_BY_VERDICT[verdict]
                    job.reason = reason
                s.flush()
                return job.id, "start" if verdict == "invoice" else f"{verdict}: {reason}"
        except IntegrityError:
            continue
    raise RuntimeError(f"could not upsert the job for order {doc.get('entity_id')}")


def _verdict(doc: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    try:
        decision = decide(parse_order(doc), context.rules())
    except MappingError as exc:
        return "review", {}, str(exc)
    plan = {"action": decision.action, "pay": decision.pay, "pay_reason": decision.pay_reason}
    return decision.action, plan, decision.reason
