"""The one runner every job's steps go through, in-process or as a chain of step tasks.

A job kind's steps are a ``Flow``: an ordered list of ``StepDef`` (the step, its stable Celery
task name, its function). ``run_job`` runs a job from a step in short transactions around its
API calls, never holding a database write lock during HTTP:

1. **claim** (``store.jobs.claim_step``): the job's lease, and an ``Attempt(outcome="started")``
   recording the intent, committed before any KashFlow call. If an earlier attempt of this step
   ended ``started`` (its worker died) or ``ambiguous`` (the write may have landed), the step
   is told to look its record up before writing (``JobView.recheck``).
2. **act**: the step's function calls the APIs and returns a ``StepResult``.
3. **finish** (``store.jobs.finish_step``): the attempt, the job's new step and state, and its
   links, at once. In a flow that runs ``in_process`` the same transaction claims the next
   step: the lease stays with this task and the next ``started`` attempt is committed before
   its act, exactly as if a task of its own had claimed it.

A new order's first step is claimed by ``process_event`` in the transaction that queues the
job (``claimed``); a resume, requeue or redrive runs the step's own task. Both run here. While
the step runs, ``workers.lease`` renews the lease (heartbeat). A failure is handled by
``workers.failures`` (retry, park, dead letter or review); a lost database or Redis connection
is retried like a 503 (``workers.retries``). A chain's next task is published by Celery only
after this task returns, i.e. after the commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from celery import Task
from celery.exceptions import Ignore
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from core import leases, logs
from core.errors import KfsyncError
from mappings.magento import Order, parse_order
from store import jobs, links
from store.db import get_engine, read_scope, session_scope, statement_by_statement
from store.jobs import JobView, StepResult
from store.models import Step
from workers import context, failures, lease
from workers.app import celery_app
from workers.deadletters import add_dead_letter, announce
from workers.retries import retried_through_outages

log = logging.getLogger(__name__)

Act = Callable[[JobView], StepResult]
Claimed = tuple[JobView, int]  # a step claimed already: its view and ``started`` attempt


@dataclass(frozen=True)
class StepDef:
    """One step of a flow."""

    step: Step
    task: str  # the step's Celery task name: stable, queued messages carry it
    act: Act
    optional: bool = False  # only when the job's plan says ``pay``
    # Only when a step's result or a re-opened job names it: no chain runs into it by itself
    # (an order's cancellation credit note, ``workers.lifecycle``).
    on_demand: bool = False
    after: Callable[[], object] | None = None  # runs after the step, outside its transaction


@dataclass(frozen=True)
class Flow:
    """A job kind's steps in order; ``in_process``: a task carries on with the next step."""

    kind: str
    steps: tuple[StepDef, ...]
    in_process: bool = False

    def __contains__(self, step: object) -> bool:
        return any(d.step == step for d in self.steps)

    def get(self, step: str) -> StepDef:
        """The definition of ``step`` (KeyError if it is not in this flow)."""
        for d in self.steps:
            if d.step == step:
                return d
        raise KeyError(step)

    def later(self, step: str) -> list[str]:
        """The steps after ``step`` that its task may resume under its own lease."""
        names = [str(d.step) for d in self.steps]
        if not self.in_process or step not in names:
            return []
        return names[names.index(step) + 1:]

    def continues(self, result: StepResult) -> str | None:
        """The next step when it runs in-process now, else None."""
        if result.stops or not self.in_process or result.next_step not in self:
            return None
        return str(result.next_step)


def register_tasks(flow: Flow) -> dict[str, Any]:
    """One Celery task per step of ``flow``, under the step's stable name, each running the
    job from that step (a chain started at a step: a requeue, a redrive, a replay)."""
    return {str(d.step): _step_task(flow, d.step, d.task) for d in flow.steps}


def _step_task(flow: Flow, step: Step, name: str) -> Any:
    def run(self: Task, job_id: int) -> None:
        with retried_through_outages(self):  # the pair's read, like any lost database
            context.enter_pair_of_job(job_id)  # the job's integration pair (core.pairs)
        run_job(self, job_id, flow, step)

    run.__name__ = run.__qualname__ = str(step)
    return celery_app.task(bind=True, name=name)(run)


# The running step's (database URL, connection), so reads in its act skip a pool checkout.
_HELD: ContextVar[tuple[str, Connection] | None] = ContextVar("kfsync_step_conn", default=None)
_PARSED: list[tuple[dict[str, Any], Order]] = []


def run_job(task: Task, job_id: int, flow: Flow, step: str,
            claimed: Claimed | None = None) -> None:
    """Run job ``job_id`` of ``flow`` from ``step``: claim it (unless ``claimed``), run the
    step and, in an in-process flow, each step after it, with their bookkeeping and retries.

    When the job is finished, stopped for review or waiting, the task ends the chain and
    returns normally.

    Raises:
        celery.exceptions.Ignore: the job is not at this step (done, or stopped), or a step
            failed and was recorded: the chain stops here.
        celery.exceptions.Retry: a transient failure (or a lost database or Redis
            connection); the task is scheduled again.
    """
    url, task_id = context.db_url(), str(task.request.id)
    ran = [step]
    with retried_through_outages(task):
        held = _HELD.set(None)
        try:
            if claimed is None and failures.park_if_circuit_open(url, job_id, step, task_id,
                                                                 flow.later(step)):
                _after(flow, ran)  # as after any run of the step's task
                raise Ignore()
            with lease.held(url, job_id, task_id), get_engine(url).connect() as conn:
                _HELD.set((url, conn))  # one pooled connection for the whole run
                try:
                    view, attempt_id = claimed or _claim(task, conn, flow, job_id, step)
                    if _run_claimed(task, url, conn, flow, view, attempt_id, ran):
                        return  # the chain's next task takes over
                finally:
                    _after(flow, ran)  # its reads on this connection
        finally:
            _HELD.reset(held)
    # Nothing more in this chain: end it here. (Not ``Ignore``, which costs a formatted
    # traceback per task; a finished job is a success.)
    task.request.chain = None


def _claim(task: Task, conn: Connection, flow: Flow, job_id: int, step: str) -> Claimed:
    task_id = str(task.request.id)
    try:
        view, attempt_id = jobs.claim_step(conn, job_id, step, task_id, flow.later(step),
                                           lease.lease_until())
    except jobs.Busy:
        raise task.retry(countdown=leases.LEASE_S // 10, max_retries=None) from None
    if view is None:
        raise Ignore()  # not at this step (done, or stopped)
    return view, attempt_id


def _run_claimed(task: Task, url: str, conn: Connection, flow: Flow, view: JobView | None,
                 attempt_id: int, ran: list[str]) -> bool:
    """Run the claimed step, then each in-process step after it, appending each to ``ran``.

    Returns True when the chain's next task carries on (a step that does not run in-process).
    """
    first = view.step if view is not None else ""
    while view is not None:
        if view.step != first:
            ran.append(view.step)
        result, seconds = _act(task, url, view, attempt_id, flow.get(view.step).act)
        then = flow.continues(result)
        view, attempt_id = _finish(conn, view, attempt_id, result, seconds,
                                   str(task.request.id), then)
        if then is None and not result.stops:
            return True
    return False


def _after(flow: Flow, ran: list[str]) -> None:
    """What each step's own task does after it (``StepDef.after``), for the steps run."""
    for done in ran:
        after = flow.get(done).after if done in flow else None
        if after is not None:
            after()


def _act(task: Task, url: str, view: JobView, attempt_id: int, act: Act
         ) -> tuple[StepResult, float]:
    """Run ``act``; a failure is recorded (``workers.failures``) and ends the task."""
    logs.bind(job_id=view.id, magento_ref=view.magento_ref, kashflow_ref=view.invoice_number)
    started = time.monotonic()
    try:
        return act(view), time.monotonic() - started
    except Exception as exc:
        if not isinstance(exc, KfsyncError):  # a bug or an unclassified failure
            log.exception("step %s of job %s failed unexpectedly", view.step, view.id)
        failed = failures.FailedStep(view.id, view.step, attempt_id, time.monotonic() - started)
        failures.fail(task, url, failed, exc)
    raise Ignore()


def _finish(conn: Connection, view: JobView, attempt_id: int, result: StepResult,
            seconds: float, task_id: str, then: str | None) -> tuple[JobView | None, int]:
    """Store the step's outcome (and claim ``then``) at once; announce a review hold once it
    commits."""
    if "invoice_number" in result.updates:
        logs.bind(kashflow_ref=result.updates["invoice_number"])
    letter = None
    # On PostgreSQL a finish is one statement (``jobs.finish_step``), atomic by itself:
    # no BEGIN and COMMIT around it unless more writes go with it.
    alone = not result.writes and not result.review
    with statement_by_statement(conn) if alone else conn.begin():
        following = jobs.finish_step(conn, view, attempt_id, result, seconds, task_id, then,
                                     lease.lease_until())
        if result.review:
            letter = add_dead_letter(conn, job_id=view.id, step=str(result.next_step),
                                     error_class="rejected", reason=result.review)
    if letter is not None:
        announce(letter, "needs_review")
    return following


@contextmanager
def step_transaction(url: str) -> Iterator[Connection | Session]:
    """A short transaction on the running step's own connection (no pool checkout), or in a
    session of its own outside a step; committed on success."""
    held = _HELD.get()
    if held is None or held[0] != url:
        with session_scope(url) as s:
            yield s
        return
    with held[1].begin():
        yield held[1]


@contextmanager
def step_read(url: str) -> Iterator[Connection | Session]:
    """``step_transaction`` for reads only: on PostgreSQL without ``BEGIN`` and ``COMMIT``
    (``store.db.statement_by_statement``), two round trips fewer per read."""
    held = _HELD.get()
    if held is None or held[0] != url:
        with read_scope(url) as s:
            yield s
        return
    with statement_by_statement(held[1]) as conn:
        yield conn


def find_link(url: str, kind: str, *magento_keys: str) -> str | None:
    """The KashFlow key linked to the first-recorded of ``magento_keys`` (read on the running
    step's connection when there is one)."""
    with step_read(url) as bind:
        return links.find_link_in(bind, kind, *magento_keys)


def parsed_order(doc: dict[str, Any]) -> Order:
    """``parse_order(doc)``, parsed once for consecutive calls with the same document object
    (a job's steps run in-process read one document)."""
    if _PARSED and _PARSED[0][0] is doc:
        return _PARSED[0][1]
    order = parse_order(doc)
    _PARSED[:] = [(doc, order)]  # holds ``doc``, so its identity cannot be reused meanwhile
    return order
