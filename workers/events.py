"""``kfsync.events.process_event``: turn a stored webhook into work.

A webhook is only a hint: the worker re-fetches the order from Magento, decides by its state
and totals, upserts the one ``SyncJob`` for that order, and starts the chain only when the
job moves from idle (new, waiting, skipped, review, dead) to queued, or when a finished
order's ledger lacks a capture or a cancellation (``workers.lifecycle``) — a repeated webhook
for an order in flight, or done and in step, starts nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from celery import Task, current_task
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from connectors.errors import AuthFailed, NotFound, Transient
from core import pairs
from mappings.errors import MappingError
from mappings.orders import decide
from services import circuit, profiles
from services.edits import supersede_original
from store import attempts, jobs, links
from store.db import read_scope, session_scope
from store.events import EVENTS, mark_processed
from store.jobs import ACTIVE_STATES, IDLE_STATES, JobView, StepResult
from store.models import JobState, Step, SyncJob
from workers import context
from workers.app import celery_app
from workers.deadletters import (
    Letter,
    add_dead_letter,
    announce,
    dead_letter,
    resolve_dead_letters,
)
from workers.dispatch import mark_retry_due, publish_chain
from workers.lease import lease_until
from workers.lifecycle import credit_replaced, order_of_invoice, reopen, reopen_step
from workers.orders import ORDER_FLOW, run_order
from workers.retries import backoff, retried_through_outages
from workers.runner import parsed_order
from workers.summary import summarised

log = logging.getLogger(__name__)

IDLE_BY_VERDICT = {"wait": JobState.WAITING, "skip": JobState.SKIPPED,
                   "review": JobState.NEEDS_REVIEW}

ORDER_TOPICS = ("order.created", "order.updated", "invoice.created")
# What a posted order's plan keeps whatever is decided again (``workers.lifecycle``).
LEDGER_KEYS = ("ledger", "replaced_by", "kashflow_invoice", "kashflow_payments")


@celery_app.task(bind=True, name="kfsync.events.process_event")
def process_event(self: Task, event_id: int) -> None:
    with retried_through_outages(self):  # a lost database or Redis: retried like a 503
        _process_event(self, event_id)


def _process_event(task: Task, event_id: int) -> None:
    url = context.db_url()
    with read_scope(url) as s:  # reads only: no BEGIN and COMMIT round trips
        event = s.execute(_EVENT, {"b_id": event_id}).one_or_none()
        if event is None:
            return
        pairs.enter(event.pair)  # its clients, rules and keys (core.pairs), for this task
        # Processed already: this task's retry, or its redelivery after its worker died.
        own = _own_job(s, event_id, str(task.request.id)) if event.processed_at else None
        topic, key, kind = event.topic, event.resource_key, event.resource_type
        if event.processed_at is None and topic in ORDER_TOPICS and kind == "order":
            # The mapping profile in force, whose version was read with the event.
            context.profile(None if event.profile_id is None else (
                int(event.profile_id), str(event.profile_hash)))
    if event.processed_at is not None:
        if own is not None:  # carry on with the order it was running, under its lease
            run_order(task, *own)
        return
    if not context.take_slot(str(task.request.id), event_id):
        return  # its pair is at its in-flight cap: the event went back to its queue
    try:
        outcome = _dispatch(task, topic, kind, key, event_id)
    except Transient as exc:
        if task.request.retries < context.settings().max_retries:
            countdown = backoff(task.request.retries, exc.retry_after)
            mark_retry_due(url, event_id, countdown)  # not "lost" while it waits
            raise task.retry(countdown=countdown, max_retries=None) from exc
        outcome = _give_up(url, event_id, exc, "transient")
    except AuthFailed as exc:
        outcome = _give_up(url, event_id, exc, "auth")
    if outcome is not None:
        with session_scope(url) as s:
            mark_processed(s, event_id, outcome)


# Built once (see store/jobs.py): the order path runs it for every event.
_EVENT = select(EVENTS.c.topic, EVENTS.c.resource_key, EVENTS.c.resource_type,
                EVENTS.c.processed_at, EVENTS.c.pair, *profiles.ACTIVE_REF_COLUMNS
                ).where(EVENTS.c.id == bindparam("b_id"))


def _own_job(s: Session, event_id: int, task_id: str) -> tuple[int, str] | None:
    """The order job started by ``event_id`` that still holds ``task_id``'s lease, with its
    step; else None."""
    row = s.execute(select(SyncJob.id, SyncJob.step).where(
        SyncJob.event_id == event_id, SyncJob.kind == "order", SyncJob.lease_task == task_id,
        SyncJob.state.in_([str(x) for x in ACTIVE_STATES]))).first()
    if row is None or row.step not in ORDER_FLOW:
        return None
    return int(row.id), str(row.step)


def _dispatch(task: Task, topic: str, kind: str, key: str, event_id: int) -> str | None:
    """Route one event to its handler; returns the outcome line to store on the event, or
    None when the handler stored it already."""
    if topic in ORDER_TOPICS and kind == "order":
        return sync_order(key, event_id, task, likely_new=topic == "order.created")
    if topic == "invoice.created" and kind == "invoice":
        # A Magento invoice (a capture): its order is synced, its ledger brought up to date.
        try:
            order_id = order_of_invoice(key)
        except NotFound:
            return f"invoice {key} not found in Magento"
        return sync_order(order_id, event_id, task)
    if topic in ORDER_TOPICS:
        # Another document's id is not its order's; the order's update (webhook or the
        # catch-up poll, which reads orders by updated_at) brings the order itself.
        return f"{topic} for a {kind}: the order is synced from its own update"
    if topic in ("customer.created", "customer.updated"):
        from workers.customers import handle_customer_event

        return handle_customer_event(key, event_id)
    if topic == "creditmemo.created":
        from workers.refunds import handle_creditmemo_event

        return handle_creditmemo_event(key, event_id)
    if topic == "stock.updated":
        from workers.stock import handle_stock_event

        if not pairs.is_default():  # stock settings are pair default's (docs/pairs.md)
            return f"stock sync runs for pair default only, not {pairs.current()}"

        return handle_stock_event(key, event_id)
    return f"accepted; no handler for {topic} in this version"


def _give_up(url: str, event_id: int, exc: Exception, error_class: str) -> str:
    dead_letter(url, event_id=event_id, step="process_event", error_class=error_class,
                reason=str(exc))
    return f"dead letter: {exc}"


@dataclass(frozen=True)
class Upserted:
    job_id: int
    start: bool  # the chain is due now
    step: str
    pay: bool
    held: Letter | None  # set: the order is newly held for review, this letter says why
    claimed: tuple[JobView, int] | None = None  # the first step, claimed: view, attempt id


def sync_order(entity_id: str, event_id: int | None = None, task: Task | None = None,
               likely_new: bool = False) -> str | None:
    """Fetch order ``entity_id``, decide, upsert its job (marking ``event_id`` processed in
    the same transaction; ``likely_new``: see ``_upsert_job``) and, if due, run its steps in
    ``task`` (claimed in that same transaction) or, without a task or while the KashFlow
    circuit is open, start its chain.

    Returns the outcome line when the event still needs marking (order not found: its job is
    held for review, ``workers.missing``), else None.

    Raises: as ``workers.runner.run_job`` while the steps run.
    """
    try:
        doc = context.magento().get_order(int(entity_id))
    except NotFound:  # held for review with its reason, never dropped
        from workers.missing import hold_missing_order

        return hold_missing_order(context.db_url(), entity_id, event_id)
    claim_as = None
    if task is not None and circuit.open_reason(context.settings().redis_url) is None:
        claim_as = str(task.request.id)
    done = _upsert_job(doc, event_id, claim_as, likely_new)
    if done.held is not None:
        announce(done.held, "needs_review")
    if done.claimed is not None and task is not None:
        view = done.claimed[0]
        run_order(task, view.id, view.step, done.claimed)
    elif done.start:
        publish_chain(done.job_id, done.step, done.pay)
    return None


def _upsert_job(doc: dict[str, Any], event_id: int | None, claim_as: str | None = None,
                likely_new: bool = False) -> Upserted:
    """Create or refresh the order's job in one transaction with the event's outcome; when
    it is due and ``claim_as`` is a task id, claim its first step for that task.

    ``likely_new`` (an ``order.created`` event): no lookup before the first write, the job is
    inserted outright and only a conflict reads it. Otherwise (an update, which usually finds
    its job) the job is read first.
    """
    verdict = _verdict(doc)
    url, key = context.db_url(), str(doc["entity_id"])
    for _ in range(2):  # the job deleted between the conflict and the read: insert again
        with session_scope(url) as s:
            fill = partial(_fill_job, s, doc, event_id, claim_as, verdict)
            done = jobs.upsert_job(s, "order", key, Step.ENSURE_CUSTOMER, fill, likely_new)
            if done is not None:
                return _after_upsert(s, *done, doc, event_id, verdict)
    raise RuntimeError(f"could not upsert the job for order {doc.get('entity_id')}")


@dataclass(frozen=True)
class _Filled:
    """How ``_fill_job`` left the job: new, its state before, due now, claimed, the
    customer step a link answered, and why a finished order was re-opened."""

    new: bool
    was: str
    start: bool
    claimed: bool  # due, and its first step is claimed for this task
    linked: StepResult | None
    reopened: str | None = None


def _reopen(s: Session, job: SyncJob, doc: dict[str, Any], event_id: int | None,
            claim_as: str | None, any_state: bool = False) -> _Filled | None:
    """A finished order whose ledger lacks a capture or a cancellation carries on at that
    step (``workers.lifecycle``); None: the job is left as it is (busy, or in step)."""
    due = reopen_step(job, doc, any_state)
    if due is None:
        return None
    was = job.state
    reopen(job, doc, *due)
    job.event_id = event_id
    _queue(s, job, was, claim_as)
    return _Filled(False, was, True, claim_as is not None, None, reopened=due[1])


def _fill_job(s: Session, doc: dict[str, Any], event_id: int | None, claim_as: str | None,
              verdict: tuple[str, dict[str, Any], str], job: SyncJob, new: bool
              ) -> _Filled | None:
    """Set the job's columns from the order (``new``: a job not yet inserted). None: the
    job is busy (running or queued), left as it is."""
    action, plan, reason = verdict
    if not new and job.state not in IDLE_STATES:
        return _reopen(s, job, doc, event_id, claim_as)
    if not new and action != "invoice" and job.invoice_number is not None:
        # Posted, then stopped, and now canceled: the ledger still decides (its CX- note).
        reopened = _reopen(s, job, doc, event_id, claim_as, any_state=True)
        if reopened is not None:
            return reopened
    was = job.state
    # A job whose invoice is posted keeps its ledger through a new decision.
    kept = {k: v for k, v in (job.plan or {}).items() if k in LEDGER_KEYS} \
        if job.invoice_number is not None else {}
    job.magento_ref, job.document, job.plan, job.event_id = (
        doc.get("increment_id"), doc, {**plan, **kept}, event_id)
    start = action == "invoice"
    if start and job.invoice_number is None and job.step in (Step.ENSURE_CUSTOMER,
                                                             Step.ADD_TO_SUMMARY):
        # Summary mode (per store or payment method): booked in its day's summary instead.
        job.step = Step.ADD_TO_SUMMARY if summarised(doc) else Step.ENSURE_CUSTOMER
    if start:
        _queue(s, job, was, claim_as)
    else:
        if was == JobState.NEEDS_REVIEW and action != "review":  # the hold no longer applies
            resolve_dead_letters(s, job.id, "replayed")
        job.state, job.reason = IDLE_BY_VERDICT[action], reason
    linked = _linked_customer(s, doc) if start and job.step == Step.ENSURE_CUSTOMER else None
    if linked is not None:  # written by the same INSERT or UPDATE
        job.customer_code, job.step = (linked.updates["customer_code"], linked.next_step)
    return _Filled(new, was, start, start and claim_as is not None, linked)


def _after_upsert(s: Session, job: SyncJob, filled: _Filled | None, doc: dict[str, Any],
                  event_id: int | None, verdict: tuple[str, dict[str, Any], str]) -> Upserted:
    """What follows the job's write in its transaction: the event's outcome, the first
    step's claim, a review hold's letter."""
    action, plan, reason = verdict
    ref = doc.get("increment_id")
    if filled is None:
        mark_processed(s, event_id, f"order {ref}: job {job.id} already {job.state}")
        return Upserted(job.id, False, job.step, False, None)
    if filled.reopened is not None:  # the ledger decides, not the order's state
        action, plan, reason = "invoice", job.plan or {}, filled.reopened
    outcome = f"order {ref}: job {job.id} " + (
        f"queued at {job.step}" if filled.start else f"{action}: {reason}")
    claimed = _record_start(s, job, doc, filled, None if event_id is None else (
        event_id, outcome))
    held = None
    if action == "review" and filled.was != JobState.NEEDS_REVIEW:  # its letter, its state
        held = add_dead_letter(s, job_id=job.id, step="process_event", error_class="rejected",
                               reason=f"order {ref}: {reason}")
    return Upserted(job.id, filled.start, job.step, bool(plan.get("pay")), held, claimed)


def _queue(s: Session, job: SyncJob, was: str, claim_as: str | None) -> None:
    """The job is due: queued, or running under ``claim_as``'s lease (written by the same
    INSERT or UPDATE as the rest of the upsert)."""
    if was in (JobState.DEAD, JobState.NEEDS_REVIEW):
        resolve_dead_letters(s, job.id, "replayed")
    job.state, job.reason = JobState.QUEUED, None
    if claim_as is not None:
        job.state, job.lease_task = JobState.RUNNING, claim_as
        job.lease_until = lease_until()


def _record_start(s: Session, job: SyncJob, doc: dict[str, Any], filled: _Filled,
                  event: tuple[int, str] | None) -> tuple[JobView, int] | None:
    """The upsert's attempts, with the event's outcome (one statement on PostgreSQL): the
    ``ok`` of an ``ensure_customer`` a link answered (with its links), and the first step
    claimed for the task whose lease the job now holds (as ``store.jobs.claim_step`` claims
    a step): its ``started`` attempt, and whether an earlier attempt of it must be looked up
    before writing (a new job has none). Returns the claimed step's view and attempt."""
    rows: list[tuple[str, str, str | None, int | None]] = []
    if filled.linked is not None:
        links.add_links(s, filled.linked.links)
        task_id = getattr(current_task.request, "id", None) if current_task else None
        rows.append((Step.ENSURE_CUSTOMER, "ok", task_id, 0))
    recheck = False
    if filled.claimed:
        assert job.lease_task is not None
        recheck = not filled.new and attempts.recheck_due(s, job.id, job.step)
        rows.append((job.step, "started", job.lease_task, None))
    ids = attempts.open_attempts(s, job.id, rows, event)
    if not filled.claimed:
        return None
    view = JobView(id=job.id, magento_key=job.magento_key, magento_ref=job.magento_ref,
                   document=doc, plan=job.plan or {}, customer_code=job.customer_code,
                   invoice_number=job.invoice_number, recheck=recheck, step=job.step,
                   fresh=filled.new)
    return view, ids[-1]


def _linked_customer(s: Session, doc: dict[str, Any]) -> StepResult | None:
    """``ensure_customer`` answered by a stored link, read in the upsert's transaction: no
    KashFlow call, so no claim is needed, and the job starts at the invoice. None when no
    link answers it."""
    from workers.customers import linked_customer

    try:
        order = parsed_order(doc)
    except MappingError:
        return None
    with s.no_autoflush:  # an existing job's UPDATE waits for the step this sets
        return linked_customer(s, order, context.rules())


def _verdict(doc: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    try:
        decision = decide(parsed_order(doc), context.rules())
    except MappingError as exc:
        return "review", {}, str(exc)
    # An edited order: stop the original's pending work; an original invoiced already is
    # credited in full and the edit invoiced on its own (``services.edits``).
    if decision.action == "invoice" and decision.replaces is not None and supersede_original(
            context.db_url(), decision, doc.get("increment_id")):
        credit_replaced(decision.replaces, doc.get("increment_id"))
    plan = {"action": decision.action, "pay": decision.pay, "pay_reason": decision.pay_reason,
            "why": decision.reason}
    return decision.action, plan, decision.reason
