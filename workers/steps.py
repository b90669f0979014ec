"""The step runner every order-chain task goes through.

A step runs in short transactions around its API calls, never holding a database write
lock during HTTP:

1. **claim**: a conditional ``UPDATE ... RETURNING`` takes a lease on the job if it is at this
   step and nobody else holds it, and an ``Attempt(outcome="started")`` row records the intent,
   in one transaction committed before any KashFlow call. If an earlier attempt of this step
   ended ``started`` (its worker died) or ``ambiguous`` (the write may have landed), the step
   is told to look the record up before writing (``recheck``).
2. **act**: the step's function calls the APIs and returns a ``StepResult``.
3. **finish**: the attempt, the job's new step and state, and entity links are stored at once.
   When the next step runs in-process (``workflow.INLINE_STEPS``), the same transaction also
   claims it: the lease stays with this task and the next step's ``started`` attempt is
   committed before its act, exactly as if it were claimed by a task of its own.

A task holding the job's lease may resume it at a later in-process step: that is its own
retry, or its redelivery after its worker died mid-step (the ``started`` attempt then makes
the step look before it writes).

Failures are classified once (``connectors.errors``) and handled here: transient -> retry
with full-jitter backoff, then a dead letter; rejected/mapping -> ``needs_review`` with the
reason; auth -> the KashFlow circuit opens and the job is parked in the database until a
probe succeeds (``services/circuit.py``). The chain's next task is
published by Celery only after this task returns, i.e. after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from typing import Any, cast

from celery import Task
from celery.exceptions import Ignore
from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    bindparam,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from celeryconfig import MAX_COUNTDOWN_S
from connectors.errors import AuthFailed, ConnectorError, Transient
from core import logs
from mappings.errors import MappingError
from mappings.magento import Order, parse_order
from services import circuit
from store.db import dialect_name, get_engine, session_scope
from store.models import Attempt, EntityLink, JobState, Step, SyncJob, utcnow
from workers import context, lease, workflow
from workers.alerts import alert
from workers.deadletters import add_dead_letter, announce
from workers.lease import LEASE_S
from workers.retries import backoff, retried_through_outages

log = logging.getLogger(__name__)

RETRY_GRACE_S = 60  # a scheduled retry this late is taken as lost
ACTIVE_STATES = (JobState.QUEUED, JobState.RETRYING, JobState.RUNNING)
RECHECK_OUTCOMES = ("started", "ambiguous")
JOBS, ATTEMPTS = cast(Table, SyncJob.__table__), cast(Table, Attempt.__table__)
LINKS = cast(Table, EntityLink.__table__)

# The statements every step runs, built once: a statement built per call cost more CPU (its
# construction and cache key) than PostgreSQL spent running it (bench/NOTES.md).
_UPDATE_JOB = update(JOBS).where(JOBS.c.id == bindparam("b_job"))
_ATTEMPT_OK = update(ATTEMPTS).where(ATTEMPTS.c.id == bindparam("b_id")).values(
    outcome="ok", duration_ms=bindparam("b_ms"))
_ATTEMPT_NEW = insert(ATTEMPTS).values(
    job_id=bindparam("b_job"), step=bindparam("b_step"), outcome=bindparam("b_outcome"),
    duration_ms=bindparam("b_ms"), task_id=bindparam("b_task"), created_at=bindparam("b_at")
).returning(ATTEMPTS.c.id)
_FIND_LINK = select(LINKS.c.kashflow_key).where(
    LINKS.c.kind == bindparam("b_kind"),
    LINKS.c.magento_key.in_(bindparam("b_keys", expanding=True))
).order_by(LINKS.c.id).limit(1)
_ADD_LINK = {  # an existing link for the key wins
    name: insert_(LINKS).values(kind=bindparam("b_kind"), magento_key=bindparam("b_magento"),
                                kashflow_key=bindparam("b_kashflow"),
                                created_at=bindparam("b_at"))
    .on_conflict_do_nothing(index_elements=["kind", "magento_key"])
    for name, insert_ in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}


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
    step: str = ""
    fresh: bool = False  # the job was created by this task: no step of it was tried before


VIEW_FIELDS = frozenset(f.name for f in fields(JobView)) - {"id", "recheck", "step", "fresh"}


@dataclass
class StepResult:
    next_step: Step
    updates: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # kind, magento, kashflow
    review: str | None = None  # set: stop here, the job needs a human, with this reason
    wait: str | None = None  # set: not yet (a refund before its invoice); a later event resumes
    # More writes that belong with the outcome, run in the transaction that stores it.
    writes: list[Callable[[Connection], None]] = field(default_factory=list)


# The running step's (database URL, connection), so reads in its act skip a pool checkout.
_HELD: ContextVar[tuple[str, Connection] | None] = ContextVar("kfsync_step_conn", default=None)
_PARSED: list[tuple[dict[str, Any], Order]] = []
_SAW_CIRCUIT_OPEN: list[bool] = []  # non-empty: this process saw the KashFlow circuit open


class _Busy(Exception):
    """Another live task holds the job's lease."""


def run_step(task: Task, job_id: int, step: Step, act: Callable[[JobView], StepResult]) -> None:
    """Run ``act`` for ``job_id`` at ``step`` with claim/finish bookkeeping and retries, then
    the job's in-process steps after it.

    When the job is finished, stopped for review or waiting, the task ends the chain and
    returns normally.

    Raises:
        celery.exceptions.Ignore: the job is not at this step (done, or stopped), or a step
            failed and was recorded: the chain stops here.
        celery.exceptions.Retry: a transient failure (or a lost database or Redis
            connection); the task is scheduled again.
    """
    url = context.db_url()
    task_id = str(task.request.id)
    ran = [str(step)]
    with retried_through_outages(task):
        held = _HELD.set(None)
        try:
            if _park_if_circuit_open(url, job_id, step, task_id):
                raise Ignore()
            with lease.held(url, job_id, task_id), get_engine(url).connect() as conn:
                _HELD.set((url, conn))  # one pooled connection for the whole run
                try:
                    view, attempt_id = _claim(conn, job_id, step, task_id)
                except _Busy:
                    raise task.retry(countdown=LEASE_S // 10, max_retries=None) from None
                if view is None:
                    raise Ignore()  # not at this step (done, or stopped)
                if _run_claimed(task, url, conn, view, attempt_id, act, ran):
                    return  # the chain's next task takes over
        finally:
            _HELD.reset(held)
            _after(ran)
    # Nothing more in this chain: end it here. (Not ``Ignore``, which costs a formatted
    # traceback per task; a finished job is a success.)
    task.request.chain = None


def run_claimed(task: Task, view: JobView, attempt_id: int) -> None:
    """Run a job this task claimed already (``process_event`` claims an order's first step in
    the transaction that queues it) from ``view.step`` to its end, every step in-process.

    Raises: as ``run_step``.
    """
    url = context.db_url()
    act = workflow.inline_act(view.step)
    assert act is not None, f"no in-process act for {view.step}"
    ran = [view.step]
    with retried_through_outages(task):
        held = _HELD.set(None)
        try:
            with lease.held(url, view.id, str(task.request.id)), \
                    get_engine(url).connect() as conn:
                _HELD.set((url, conn))
                try:
                    _run_claimed(task, url, conn, view, attempt_id, act, ran)
                finally:
                    _after(ran)  # its reads on this connection
        finally:
            _HELD.reset(held)


def _run_claimed(task: Task, url: str, conn: Connection, view: JobView | None,
                 attempt_id: int, act: Callable[[JobView], StepResult], ran: list[str]) -> bool:
    """Run the claimed step, then each in-process step after it, appending each to ``ran``.

    Returns True when the chain's next task carries on (a step that does not run in-process).
    """
    first = view.step if view is not None else ""
    while view is not None:
        run = act if view.step == first else workflow.inline_act(view.step)
        assert run is not None, f"no in-process act for {view.step}"
        if view.step != first:
            ran.append(view.step)
        result, seconds = _act(task, url, view, attempt_id, run)
        then = _continues(result)
        view, attempt_id = _finish(conn, view, attempt_id, result, seconds, str(task.request.id),
                                   then)
        if then is None and not (result.review or result.wait or result.next_step == Step.DONE):
            return True
    return False


def _after(ran: list[str]) -> None:
    """What each step's own task does after it (``workflow.AFTER_STEP``), for the steps run."""
    for done in ran:
        after = workflow.after_step(done)
        if after is not None:
            after()


def _act(task: Task, url: str, view: JobView, attempt_id: int,
         act: Callable[[JobView], StepResult]) -> tuple[StepResult, float]:
    """Run ``act``; a failure is recorded (``_fail``) and ends the task (Ignore or Retry)."""
    logs.bind(job_id=view.id, magento_ref=view.magento_ref, kashflow_ref=view.invoice_number)
    started = time.monotonic()
    try:
        return act(view), time.monotonic() - started
    except (MappingError, ConnectorError) as exc:
        _fail(task, url, view.id, Step(view.step), attempt_id, exc, time.monotonic() - started)
    except Exception as exc:  # a bug or an unclassified failure: retry, then dead letter
        log.exception("step %s of job %s failed unexpectedly", view.step, view.id)
        _fail(task, url, view.id, Step(view.step), attempt_id, exc, time.monotonic() - started)
    raise Ignore()


def _continues(result: StepResult) -> str | None:
    """The next step when it runs in-process now, else None."""
    if result.review or result.wait or result.next_step == Step.DONE:
        return None
    return result.next_step if workflow.inline_act(result.next_step) else None


def _step_is(step: Step, task_id: str) -> ColumnElement[bool]:
    """The job is at ``step``, or at a later in-process step under this task's own lease."""
    later = workflow.inline_after(step)
    at_step = JOBS.c.step == step
    if not later:
        return at_step
    return at_step | ((JOBS.c.lease_task == task_id) & JOBS.c.step.in_(later))


def needs_recheck(job_id: Any, step: Any) -> Any:
    """True when an earlier attempt of ``step`` may have reached KashFlow (it ended
    ``started`` or ``ambiguous``): look the record up before writing."""
    return exists().where(ATTEMPTS.c.job_id == job_id, ATTEMPTS.c.step == step,
                          ATTEMPTS.c.outcome.in_(RECHECK_OUTCOMES))


def _claim(conn: Connection, job_id: int, step: Step, task_id: str
           ) -> tuple[JobView | None, int]:
    now = utcnow()
    with conn.begin():
        row = conn.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, _step_is(step, task_id),
                   JOBS.c.state.in_([str(x) for x in ACTIVE_STATES]))
            .where((JOBS.c.lease_until.is_(None)) | (JOBS.c.lease_until < now)
                   | (JOBS.c.lease_task == task_id))
            .values(state=JobState.RUNNING, lease_task=task_id,
                    lease_until=lease.lease_until())
            .returning(JOBS.c.step, JOBS.c.magento_key, JOBS.c.magento_ref, JOBS.c.document,
                       JOBS.c.plan, JOBS.c.customer_code, JOBS.c.invoice_number,
                       needs_recheck(job_id, JOBS.c.step).correlate(JOBS).label("recheck"))
        ).one_or_none()
        if row is None:
            job = conn.execute(select(JOBS.c.step, JOBS.c.state)
                               .where(JOBS.c.id == job_id)).one_or_none()
            if job is not None and job.step == step and job.state == JobState.RUNNING:
                raise _Busy()
            return None, 0
        view = JobView(id=job_id, magento_key=row.magento_key, magento_ref=row.magento_ref,
                       document=row.document or {}, plan=row.plan or {},
                       customer_code=row.customer_code, invoice_number=row.invoice_number,
                       recheck=bool(row.recheck), step=row.step)
        return view, add_attempt(conn, job_id, row.step, "started", task_id)


def add_attempt(conn: Connection | Session, job_id: int, step: str, outcome: str,
                task_id: str | None, duration_ms: int | None = None) -> int:
    """Insert an attempt row on ``conn``; returns its id."""
    return int(conn.execute(_ATTEMPT_NEW, {
        "b_job": job_id, "b_step": step, "b_outcome": outcome, "b_ms": duration_ms,
        "b_task": task_id, "b_at": utcnow()}).scalar_one())


_RECHECK = select(needs_recheck(bindparam("b_job"), bindparam("b_step")))


def recheck_due(conn: Connection | Session, job_id: int, step: str) -> bool:
    """``needs_recheck`` for ``step`` of ``job_id``, read on ``conn``."""
    return bool(conn.scalar(_RECHECK, {"b_job": job_id, "b_step": step}))


def _finish(conn: Connection, view: JobView, attempt_id: int, result: StepResult,
            seconds: float, task_id: str, then: str | None) -> tuple[JobView | None, int]:
    """Store the step's outcome; with ``then``, claim that next step in the same transaction.

    Returns the next step's view and started attempt (``then``), else ``(None, 0)``.
    """
    values: dict[str, Any] = {**result.updates, "step": result.next_step,
                              "lease_task": None, "lease_until": None}
    if then is not None:
        values |= {"state": JobState.RUNNING, "lease_task": task_id,
                   "lease_until": lease.lease_until()}
    elif result.review:
        values |= {"state": JobState.NEEDS_REVIEW, "reason": result.review}
    elif result.wait:
        values |= {"state": JobState.WAITING, "reason": result.wait}
    elif result.next_step == Step.DONE:  # a reason only when a step was switched off
        values |= {"state": JobState.DONE, "reason": result.updates.get("reason")}
    else:
        values["state"] = JobState.QUEUED
    if "invoice_number" in result.updates:
        logs.bind(kashflow_ref=result.updates["invoice_number"])
    following: tuple[JobView | None, int] = (None, 0)
    letter = None
    with conn.begin():
        conn.execute(_ATTEMPT_OK, {"b_id": attempt_id, "b_ms": int(seconds * 1000)})
        conn.execute(_UPDATE_JOB, {"b_job": view.id, **values})  # SET: the keys given
        add_links(conn, result.links)
        for write in result.writes:
            write(conn)
        if result.review:
            letter = add_dead_letter(conn, job_id=view.id, step=str(result.next_step),
                                     error_class="rejected", reason=result.review)
        if then is not None:
            known = {k: v for k, v in result.updates.items() if k in VIEW_FIELDS}
            recheck = not view.fresh and recheck_due(conn, view.id, then)
            following = (replace(view, step=then, recheck=recheck, **known),
                         add_attempt(conn, view.id, then, "started", task_id))
    if letter is not None:
        announce(letter, "needs_review")
    return following


def _link_rows(links: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    now = utcnow()
    return [{"b_kind": kind, "b_magento": magento, "b_kashflow": kashflow, "b_at": now}
            for kind, magento, kashflow in links]


def add_links(conn: Connection | Session, links: list[tuple[str, str, str]]) -> None:
    """Record Magento <-> KashFlow links (kind, magento key, kashflow key) on ``conn``, in one
    statement; an existing link for a key wins."""
    if links:
        conn.execute(_ADD_LINK[dialect_name(conn)], _link_rows(links))


def _held_connection(url: str) -> Connection | None:
    """The running step's connection to ``url`` (for a short transaction of the step's own
    between its API calls), or None outside a step."""
    held = _HELD.get()
    return held[1] if held is not None and held[0] == url else None


@contextmanager
def step_transaction(url: str) -> Iterator[Connection | Session]:
    """A short transaction on the running step's own connection (no pool checkout), or in a
    session of its own outside a step; committed on success."""
    conn = _held_connection(url)
    if conn is None:
        with session_scope(url) as s:
            yield s
        return
    with conn.begin():
        yield conn


def find_link(url: str, kind: str, *magento_keys: str) -> str | None:
    """The KashFlow key linked to the first-recorded of ``magento_keys`` (read on the running
    step's connection when there is one)."""
    with step_transaction(url) as bind:
        return find_link_in(bind, kind, *magento_keys)


def find_link_in(bind: Connection | Session, kind: str, *magento_keys: str) -> str | None:
    """The KashFlow key linked to the first-recorded of ``magento_keys``, read on ``bind``."""
    found: str | None = bind.scalar(_FIND_LINK, {"b_kind": kind, "b_keys": list(magento_keys)})
    return found


def parsed_order(doc: dict[str, Any]) -> Order:
    """``parse_order(doc)``, parsed once for consecutive calls with the same document object
    (a job's steps run in-process read one document)."""
    if _PARSED and _PARSED[0][0] is doc:
        return _PARSED[0][1]
    order = parse_order(doc)
    _PARSED[:] = [(doc, order)]  # holds ``doc``, so its identity cannot be reused meanwhile
    return order


def _fail(task: Task, url: str, job_id: int, step: Step, attempt_id: int,
          exc: Exception, seconds: float) -> None:
    outcome = getattr(exc, "outcome", "rejected" if isinstance(exc, MappingError) else "error")
    retryable = isinstance(exc, Transient) or outcome == "error"
    retries = int(task.request.retries or 0)
    exhausted = retries >= context.settings().max_retries
    retry_after = getattr(exc, "retry_after", None)
    park_for = _park_delay(exc, retry_after)
    letter = None
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
        else:
            job.state = JobState.DEAD if retryable else JobState.NEEDS_REVIEW
            job.reason = f"{step}: {exc}"
            ref = job.magento_ref or job.magento_key
            letter = add_dead_letter(s, job_id=job_id, step=str(step), error_class=outcome,
                                     reason=str(exc) if retryable else f"order {ref}: {exc}")
    if park_for is not None:
        if isinstance(exc, AuthFailed):
            _SAW_CIRCUIT_OPEN[:] = [True]
        if isinstance(exc, AuthFailed) and circuit.trip(context.settings().redis_url, str(exc)):
            alert("circuit_open", f"KashFlow refused our credentials ({exc}); KashFlow work is "
                                  "paused until a probe succeeds")
        return
    if retryable and not exhausted:
        raise task.retry(countdown=countdown, max_retries=None)
    assert letter is not None  # dead or held: its letter was written with that state
    announce(letter, "dead_letter" if retryable else "needs_review")


def _park_delay(exc: Exception, retry_after: float | None) -> float | None:
    """Seconds to park the job in the database, or None to use a broker retry."""
    if isinstance(exc, AuthFailed):
        return circuit.PARK_S
    if retry_after is not None and retry_after > MAX_COUNTDOWN_S:
        return retry_after  # too long for a broker countdown (visibility timeout)
    return None


def _park_if_circuit_open(url: str, job_id: int, step: Step, task_id: str) -> bool:
    """Park the job without calling KashFlow when the circuit is open; True if parked."""
    reason = circuit.open_reason(context.settings().redis_url)
    if reason is None:
        if _SAW_CIRCUIT_OPEN:
            # A probe closed it, in whichever process ran it: this process's KashFlow client
            # may still hold its own login pause from the refusal; start a fresh one.
            _SAW_CIRCUIT_OPEN.clear()
            context.reset_clients()
        return False
    _SAW_CIRCUIT_OPEN[:] = [True]
    now = utcnow()
    with session_scope(url) as s:
        s.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, _step_is(step, task_id),
                   JOBS.c.state.in_([str(x) for x in ACTIVE_STATES]),
                   JOBS.c.lease_until.is_(None) | (JOBS.c.lease_until < now)
                   | (JOBS.c.lease_task == task_id))
            .values(state=JobState.RETRYING, reason=f"paused: KashFlow circuit open ({reason})",
                    due_at=now + timedelta(seconds=circuit.PARK_S), lease_task=None,
                    lease_until=None))
    return True

