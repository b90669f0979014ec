"""What a failed step does next, decided by the failure's class (``core.errors``).

- ``AuthFailed`` (KashFlow refused our credentials): the KashFlow circuit opens and the job is
  parked in the database until a probe succeeds (``services.circuit``);
- a ``RetriableError`` asking for a wait longer than a broker countdown may be (visibility
  timeout): parked in the database, re-enqueued by beat;
- a ``RetriableError`` (``AmbiguousError`` included: the retry looks first), or any
  unclassified exception (a bug): retried with full-jitter backoff, then dead-lettered;
- a ``FatalError`` (rejected, not found, a mapping gap): no retry, the job goes to
  ``needs_review`` with the reason and an alert.

Every outcome is recorded on the step's ``started`` attempt (``store.jobs.record_failure``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from celery import Task

from celeryconfig import MAX_COUNTDOWN_S
from connectors.errors import AuthFailed
from core.errors import FatalError, KfsyncError, RetriableError
from services import circuit
from store import jobs
from store.db import session_scope
from store.models import JobState, utcnow
from workers import context
from workers.alerts import alert
from workers.deadletters import Letter, add_dead_letter, announce
from workers.retries import backoff

RETRY_GRACE_S = 60  # a scheduled retry this late is taken as lost

# Non-empty: this process saw the KashFlow circuit open (its client may hold a login pause).
SAW_CIRCUIT_OPEN: list[bool] = []


@dataclass(frozen=True)
class FailedStep:
    """The step that failed: its job, step, ``started`` attempt and how long it ran."""

    job_id: int
    step: str
    attempt_id: int
    seconds: float


def fail(task: Task, url: str, failed: FailedStep, exc: Exception) -> None:
    """Record ``exc`` on the failed step and park, retry, dead-letter or hold its job.

    Returns normally when the job was parked; otherwise raises.

    Raises:
        celery.exceptions.Retry: a retriable failure with retries left.
    """
    retryable = not isinstance(exc, FatalError)
    retries = int(task.request.retries or 0)
    exhausted = retries >= context.settings().max_retries
    retry_after = exc.retry_after if isinstance(exc, RetriableError) else None
    park_for = park_delay(exc, retry_after)
    countdown = backoff(retries, retry_after) if retryable and not exhausted else 0.0
    failure = _failure(task, failed, exc, park_for, countdown, exhausted)
    letter: Letter | None = None
    with session_scope(url) as s:
        ref = jobs.record_failure(s, failed.job_id, failed.attempt_id, failure)
        if failure.state in (JobState.DEAD, JobState.NEEDS_REVIEW):
            letter = add_dead_letter(s, job_id=failed.job_id, step=failed.step,
                                     error_class=failure.outcome,
                                     reason=str(exc) if retryable else f"order {ref}: {exc}")
    if park_for is not None:
        if isinstance(exc, AuthFailed):
            _circuit_opened(exc)
        return
    if letter is None:
        raise task.retry(countdown=countdown, max_retries=None)
    announce(letter, "dead_letter" if retryable else "needs_review")


def _failure(task: Task, failed: FailedStep, exc: Exception, park_for: float | None,
             countdown: float, exhausted: bool) -> jobs.Failure:
    """The attempt's outcome and the job's state after ``exc``."""
    due_at = lease_until = None
    lease_task: str | None = None
    if park_for is not None:
        state, reason = JobState.RETRYING, f"paused {park_for:.0f} s: {exc}"
        due_at = utcnow() + timedelta(seconds=park_for)
    elif not isinstance(exc, FatalError) and not exhausted:
        state = JobState.RETRYING
        reason = f"retry {int(task.request.retries or 0) + 1}: {exc}"
        # The retry keeps this task id, so it may claim the job; anything else waits until
        # the retry is overdue (its message lost with a worker or a Redis restart), when
        # beat's redrive takes over.
        lease_task = str(task.request.id)
        lease_until = utcnow() + timedelta(seconds=countdown + RETRY_GRACE_S)
    else:
        state = JobState.NEEDS_REVIEW if isinstance(exc, FatalError) else JobState.DEAD
        reason = f"{failed.step}: {exc}"
    classified = exc if isinstance(exc, KfsyncError) else None
    return jobs.Failure(outcome=classified.outcome if classified else "error",
                        http_status=classified.status if classified else None,
                        duration_ms=int(failed.seconds * 1000), error=str(exc), state=state,
                        reason=reason, due_at=due_at, lease_task=lease_task,
                        lease_until=lease_until)


def _circuit_opened(exc: AuthFailed) -> None:
    SAW_CIRCUIT_OPEN[:] = [True]
    if circuit.trip(context.settings().redis_url, str(exc)):
        alert("circuit_open", f"KashFlow refused our credentials ({exc}); KashFlow work is "
                              "paused until a probe succeeds")


def park_delay(exc: Exception, retry_after: float | None) -> float | None:
    """Seconds to park the job in the database, or None to use a broker retry."""
    if isinstance(exc, AuthFailed):
        return circuit.PARK_S
    if retry_after is not None and retry_after > MAX_COUNTDOWN_S:
        return retry_after  # too long for a broker countdown (visibility timeout)
    return None


def park_if_circuit_open(url: str, job_id: int, step: str, task_id: str,
                         later: list[str]) -> bool:
    """Park the job without calling KashFlow when the circuit is open; True if parked."""
    reason = circuit.open_reason(context.settings().redis_url)
    if reason is None:
        if SAW_CIRCUIT_OPEN:
            # A probe closed it, in whichever process ran it: this process's KashFlow client
            # may still hold its own login pause from the refusal; start a fresh one.
            SAW_CIRCUIT_OPEN.clear()
            context.reset_clients()
        return False
    SAW_CIRCUIT_OPEN[:] = [True]
    with session_scope(url) as s:
        jobs.park_step(s, job_id, step, task_id, later,
                       reason=f"paused: KashFlow circuit open ({reason})",
                       due_at=utcnow() + timedelta(seconds=circuit.PARK_S))
    return True
