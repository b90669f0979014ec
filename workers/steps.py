"""The step runner every order-chain task goes through.

A step runs in three short transactions around its API calls, never holding a database write
lock during HTTP:

1. **claim**: a conditional UPDATE takes a lease on the job if it is at this step and nobody
   else holds it; an ``Attempt(outcome="started")`` row records the intent. If an earlier
   attempt of this step ended ``started`` (its worker died) or ``ambiguous`` (the write may
   have landed), the step is told to look the record up before writing (``recheck``).
2. **act**: the step's function calls the APIs and returns a ``StepResult``.
3. **finish**: the attempt, the job's new step and state, and entity links are stored at once.

Failures are classified once (``connectors.errors``) and handled here: transient -> retry
with full-jitter backoff, then a dead letter; rejected/mapping -> ``needs_review`` with the
reason; auth -> the KashFlow circuit opens and the job is parked in the database until a
probe succeeds (``workers/circuit.py``). The chain's next task is
published by Celery only after this task returns, i.e. after the commit.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from celery import Task
from celery.exceptions import Ignore
from sqlalchemy import CursorResult, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from celeryconfig import MAX_COUNTDOWN_S
from connectors.errors import AuthFailed, ConnectorError, Transient
from kfsync import logs
from mappings.errors import MappingError
from store.db import session_scope
from store.models import Attempt, EntityLink, JobState, Step, SyncJob, utcnow
from workers import circuit, context
from workers.alerts import alert
from workers.deadletters import dead_letter

log = logging.getLogger(__name__)

LEASE_S = 300  # > the longest step: a few API calls at 30 s timeout each
RETRY_GRACE_S = 60  # a scheduled retry this late is taken as lost
BACKOFF_BASE_S = 2.0
ACTIVE_STATES = (JobState.QUEUED, JobState.RETRYING, JobState.RUNNING)


@dataclass(frozen=True)
class JobView:
    """What a step may read of its job (a detached snapshot, safe across HTTP calls)."""

    id: int
    magento_key: str
    magento_ref: str | None
    document: dict[str, Any]
    plan: dict[str, Any]
    customer_code: str | None
    invoice_number: int | None
    recheck: bool


@dataclass
class StepResult:
    next_step: Step
    updates: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # kind, magento, kashflow
    review: str | None = None  # set: stop here, the job needs a human, with this reason
    wait: str | None = None  # set: not yet (a refund before its invoice); a later event resumes


class _Busy(Exception):
    """Another live task holds the job's lease."""


def run_step(task: Task, job_id: int, step: Step, act: Callable[[JobView], StepResult]) -> None:
    """Run ``act`` for ``job_id`` at ``step`` with claim/finish bookkeeping and retries.

    Raises:
        celery.exceptions.Ignore: the job is not at this step (done, or stopped): the chain
            stops here.
        celery.exceptions.Retry: a transient failure; the task is scheduled again.
    """
    url = context.db_url()
    task_id = str(task.request.id)
    if _park_if_circuit_open(url, job_id, step):
        raise Ignore()
    try:
        view, attempt_id = _claim(url, job_id, step, task_id)
    except _Busy:
        raise task.retry(countdown=LEASE_S // 10, max_retries=None) from None
    if view is None:
        raise Ignore()
    logs.bind(job_id=job_id, magento_ref=view.magento_ref, kashflow_ref=view.invoice_number)
    started = time.monotonic()
    try:
        result = act(view)
    except (MappingError, ConnectorError) as exc:
        _fail(task, url, job_id, step, attempt_id, exc, time.monotonic() - started)
        raise Ignore() from None
    except Exception as exc:  # a bug or an unclassified failure: retry, then dead letter
        log.exception("step %s of job %s failed unexpectedly", step, job_id)
        _fail(task, url, job_id, step, attempt_id, exc, time.monotonic() - started)
        raise Ignore() from None
    _finish(url, job_id, attempt_id, result, time.monotonic() - started)
    if result.review or result.wait or result.next_step == Step.DONE:
        raise Ignore()  # nothing more in this chain


def _claim(url: str, job_id: int, step: Step, task_id: str) -> tuple[JobView | None, int]:
    now = utcnow()
    with session_scope(url) as s:
        claimed = cast(CursorResult[Any], s.execute(
            update(SyncJob)
            .where(SyncJob.id == job_id, SyncJob.step == step,
                   SyncJob.state.in_([str(x) for x in ACTIVE_STATES]))
            .where((SyncJob.lease_until.is_(None)) | (SyncJob.lease_until < now)
                   | (SyncJob.lease_task == task_id))
            .values(state=JobState.RUNNING, lease_task=task_id,
                    lease_until=now + timedelta(seconds=LEASE_S))
            .execution_options(synchronize_session=False)
        )).rowcount
        job = s.get(SyncJob, job_id)
        if not claimed:
            if job is not None and job.step == step and job.state == JobState.RUNNING:
                raise _Busy()
            return None, 0
        assert job is not None
        recheck = s.scalar(
            select(Attempt.id).where(Attempt.job_id == job_id, Attempt.step == step,
                                     Attempt.outcome.in_(("started", "ambiguous"))).limit(1)
        ) is not None
        attempt = Attempt(job_id=job_id, step=step, outcome="started", task_id=task_id)
        s.add(attempt)
        s.flush()
        view = JobView(id=job.id, magento_key=job.magento_key, magento_ref=job.magento_ref,
                       document=job.document or {}, plan=job.plan or {},
                       customer_code=job.customer_code, invoice_number=job.invoice_number,
                       recheck=recheck)
        return view, attempt.id


def _finish(url: str, job_id: int, attempt_id: int, result: StepResult, seconds: float) -> None:
    with session_scope(url) as s:
        attempt = s.get(Attempt, attempt_id)
        job = s.get(SyncJob, job_id)
        assert attempt is not None and job is not None
        attempt.outcome = "ok"
        attempt.duration_ms = int(seconds * 1000)
        for key, value in result.updates.items():
            setattr(job, key, value)
        if "invoice_number" in result.updates:
            logs.bind(kashflow_ref=result.updates["invoice_number"])
        job.step = result.next_step
        job.lease_task = job.lease_until = None
        if result.review:
            job.state, job.reason = JobState.NEEDS_REVIEW, result.review
        elif result.wait:
            job.state, job.reason = JobState.WAITING, result.wait
        elif result.next_step == Step.DONE:
            job.state, job.reason = JobState.DONE, None
        else:
            job.state = JobState.QUEUED
        for kind, magento_key, kashflow_key in result.links:
            add_link(s, kind, magento_key, kashflow_key)
    if result.review:
        dead_letter(url, job_id=job_id, step=str(job.step), error_class="rejected",
                    reason=result.review, alert_kind="needs_review")


def add_link(s: Session, kind: str, magento_key: str, kashflow_key: str) -> None:
    """Record a Magento <-> KashFlow link in ``s``; an existing link for the key wins."""
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(insert(EntityLink).values(kind=kind, magento_key=magento_key,
                                        kashflow_key=kashflow_key, created_at=utcnow())
              .on_conflict_do_nothing(index_elements=["kind", "magento_key"]))


def find_link(url: str, kind: str, *magento_keys: str) -> str | None:
    with session_scope(url) as s:
        return s.scalar(select(EntityLink.kashflow_key).where(
            EntityLink.kind == kind, EntityLink.magento_key.in_(magento_keys)
        ).order_by(EntityLink.id).limit(1))


def _fail(task: Task, url: str, job_id: int, step: Step, attempt_id: int,
          exc: Exception, seconds: float) -> None:
    outcome = getattr(exc, "outcome", "rejected" if isinstance(exc, MappingError) else "error")
    retryable = isinstance(exc, Transient) or outcome == "error"
    retries = int(task.request.retries or 0)
    exhausted = retries >= context.settings().max_retries
    retry_after = getattr(exc, "retry_after", None)
    park_for = _park_delay(exc, retry_after)
    with session_scope(url) as s:
        attempt = s.get(Attempt, attempt_id)
        job = s.get(SyncJob, job_id)
        assert attempt is not None and job is not None
        attempt.outcome = outcome
        attempt.http_status = getattr(exc, "status", None)
        attempt.duration_ms = int(seconds * 1000)
        attempt.error = str(exc)[:2000]
        job.lease_task = job.lease_until = None
        countdown = 0.0
        if park_for is not None:
            job.state, job.due_at = JobState.RETRYING, utcnow() + timedelta(seconds=park_for)
            job.reason = f"paused {park_for:.0f} s: {exc}"
        elif retryable and not exhausted:
            countdown = backoff(retries, retry_after)
            job.state, job.reason = JobState.RETRYING, f"retry {retries + 1}: {exc}"
            # The retry keeps this task id, so it may claim the job; anything else waits until
            # the retry is overdue (its message lost with a worker or a Redis restart), when
            # beat's redrive takes over.
            job.lease_task = str(task.request.id)
            job.lease_until = utcnow() + timedelta(seconds=countdown + RETRY_GRACE_S)
        elif retryable:
            job.state, job.reason = JobState.DEAD, f"{step}: {exc}"
        else:
            job.state, job.reason = JobState.NEEDS_REVIEW, f"{step}: {exc}"
        ref = job.magento_ref or job.magento_key
    if park_for is not None:
        if isinstance(exc, AuthFailed) and circuit.trip(context.settings().redis_url, str(exc)):
            alert("circuit_open", f"KashFlow refused our credentials ({exc}); KashFlow work is "
                                  "paused until a probe succeeds")
        return
    if retryable and not exhausted:
        raise task.retry(countdown=countdown, max_retries=None)
    dead_letter(url, job_id=job_id, step=str(step), error_class=outcome,
                reason=f"order {ref}: {exc}" if not retryable else str(exc),
                alert_kind="dead_letter" if retryable else "needs_review")


def _park_delay(exc: Exception, retry_after: float | None) -> float | None:
    """Seconds to park the job in the database, or None to use a broker retry."""
    if isinstance(exc, AuthFailed):
        return circuit.PARK_S
    if retry_after is not None and retry_after > MAX_COUNTDOWN_S:
        return retry_after  # too long for a broker countdown (visibility timeout)
    return None


def _park_if_circuit_open(url: str, job_id: int, step: Step) -> bool:
    """Park the job without calling KashFlow when the circuit is open; True if parked."""
    reason = circuit.open_reason(context.settings().redis_url)
    if reason is None:
        return False
    with session_scope(url) as s:
        s.execute(
            update(SyncJob)
            .where(SyncJob.id == job_id, SyncJob.step == step,
                   SyncJob.state.in_([str(x) for x in ACTIVE_STATES]),
                   SyncJob.lease_until.is_(None) | (SyncJob.lease_until < utcnow()))
            .values(state=JobState.RETRYING, reason=f"paused: KashFlow circuit open ({reason})",
                    due_at=utcnow() + timedelta(seconds=circuit.PARK_S))
            .execution_options(synchronize_session=False))
    return True


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Full-jitter exponential backoff, never shorter than the server's Retry-After and never
    longer than MAX_COUNTDOWN_S (which stays below the broker's visibility timeout)."""
    ceiling = min(MAX_COUNTDOWN_S, BACKOFF_BASE_S * (2 ** retries))
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_COUNTDOWN_S)
