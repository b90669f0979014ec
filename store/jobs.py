"""Every statement that moves a ``SyncJob`` through its steps, in one module.

The runner (``workers.runner``) and the failure path (``workers.failures``) own the
transactions; the functions here run their statements on the connection or session given:

- ``claim_step``: a conditional ``UPDATE ... RETURNING`` takes the job's lease if it is at the
  step and nobody else holds it, and ``add_attempt`` records ``started`` (the intent) in the
  same transaction, before any API call;
- ``finish_step``: the attempt's ``ok``, the job's next step and state, its links and, when
  the next step runs in-process, that step's claim, all at once;
- ``record_failure``: the attempt's outcome and the job's retry, park, dead or review state;
- ``park_step``: a job parked while the KashFlow circuit is open;
- ``upsert_job``: the one job per ``(kind, magento_key)``, inserted or refreshed (the
  attempts its transaction records: ``store.attempts.open_attempts``);
- ``renew_leases`` (the heartbeat of ``workers.lease``) and ``queue_waiting``.

The links a step records (Magento key -> KashFlow key) live in ``store.links``.

The statements every step runs are built once: a statement built per call cost more CPU (its
construction and cache key) than PostgreSQL spent running it (bench/NOTES.md). This module
imports nothing above ``store``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core import pairs
from store.attempts import ATTEMPTS, add_attempt, needs_recheck, recheck_due
from store.db import dialect_name
from store.links import add_links, link_params, links_cte
from store.models import Attempt, JobState, Step, SyncJob, utcnow

ACTIVE_STATES = (JobState.QUEUED, JobState.RETRYING, JobState.RUNNING)
IDLE_STATES = (JobState.WAITING, JobState.SKIPPED, JobState.NEEDS_REVIEW, JobState.DEAD)
JOBS = cast(Table, SyncJob.__table__)

UPDATE_JOB = update(JOBS).where(JOBS.c.id == bindparam("b_job"))
_ATTEMPT_OK = update(ATTEMPTS).where(ATTEMPTS.c.id == bindparam("b_id")).values(
    outcome="ok", duration_ms=bindparam("b_ms"))
_RENEW = update(JOBS).where(
    JOBS.c.id == bindparam("b_job"), JOBS.c.lease_task == bindparam("b_task"),
    JOBS.c.state == JobState.RUNNING).values(lease_until=bindparam("b_until"))
# A job's row: one INSERT (the ORM's unit of work cost more than the statement), which returns
# no row when the document has a job already; the columns an upsert sets, the others take
# their defaults.
_INSERT_JOB = {
    name: insert_(JOBS).on_conflict_do_nothing(index_elements=["pair", "kind", "magento_key"])
    .returning(JOBS.c.id)
    for name, insert_ in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
_NEW_JOB_COLUMNS = ("pair", "kind", "magento_key", "magento_ref", "state", "step", "reason",
                    "document", "plan", "customer_code", "event_id", "lease_task", "lease_until")
_JOB = select(SyncJob).where(SyncJob.pair == bindparam("b_pair"),
                             SyncJob.kind == bindparam("b_kind"),
                             SyncJob.magento_key == bindparam("b_key"))
# An upsert decides from the job it reads (re-open a finished order, claim its step), so two
# upserts of one job must not both read it before either writes. PostgreSQL locks the row;
# SQLite locks the whole database, and only for a write: a no-op UPDATE takes that lock first.
_JOB_FOR_UPDATE = _JOB.with_for_update()
_LOCK_JOB_SQLITE = update(JOBS).where(
    JOBS.c.pair == bindparam("b_pair"), JOBS.c.kind == bindparam("b_kind"),
    JOBS.c.magento_key == bindparam("b_key")).values(id=JOBS.c.id)
WAITING = select(JOBS.c.id, JOBS.c.plan).where(JOBS.c.kind == bindparam("b_kind"),
                                                JOBS.c.state == JobState.WAITING)


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
    """What a step did: the job's next step, the columns and links to store with it."""

    next_step: Step
    updates: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # kind, magento, kashflow
    review: str | None = None  # set: stop here, the job needs a human, with this reason
    wait: str | None = None  # set: not yet (a refund before its invoice); a later event resumes
    # More writes that belong with the outcome, run in the transaction that stores it.
    writes: list[Callable[[Connection], None]] = field(default_factory=list)

    @property
    def stops(self) -> bool:
        """The job goes no further now: done, held for review, or waiting."""
        return bool(self.review or self.wait or self.next_step == Step.DONE)


class Busy(Exception):
    """Another live task holds the job's lease."""


def step_is(step: str, task_id: str, later: Sequence[str]) -> ColumnElement[bool]:
    """The job is at ``step``, or at one of the ``later`` in-process steps under this task's
    own lease (its retry, or its redelivery, resumes where it got to)."""
    at_step = JOBS.c.step == step
    if not later:
        return at_step
    return at_step | ((JOBS.c.lease_task == task_id) & JOBS.c.step.in_(list(later)))


def _free_for(task_id: str, now: datetime) -> ColumnElement[bool]:
    return (JOBS.c.lease_until.is_(None) | (JOBS.c.lease_until < now)
            | (JOBS.c.lease_task == task_id))


def claim_step(conn: Connection, job_id: int, step: str, task_id: str, later: Sequence[str],
               lease_until: datetime) -> tuple[JobView | None, int]:
    """Lease job ``job_id`` at ``step`` (or a ``later`` step under this task's lease) to
    ``task_id`` and record its ``started`` attempt, in one committed transaction.

    Returns the job's view and the attempt id, or ``(None, 0)`` when the job is not at the
    step (done, or stopped).

    Raises:
        Busy: another live task holds the job's lease at this step.
    """
    with conn.begin():
        row = conn.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, step_is(step, task_id, later),
                   JOBS.c.state.in_([str(x) for x in ACTIVE_STATES]))
            .where(_free_for(task_id, utcnow()))
            .values(state=JobState.RUNNING, lease_task=task_id, lease_until=lease_until)
            .returning(JOBS.c.step, JOBS.c.magento_key, JOBS.c.magento_ref, JOBS.c.document,
                       JOBS.c.plan, JOBS.c.customer_code, JOBS.c.invoice_number,
                       needs_recheck(job_id, JOBS.c.step).correlate(JOBS).label("recheck"))
        ).one_or_none()
        if row is None:
            job = conn.execute(select(JOBS.c.step, JOBS.c.state)
                               .where(JOBS.c.id == job_id)).one_or_none()
            if job is not None and job.step == step and job.state == JobState.RUNNING:
                raise Busy()
            return None, 0
        view = JobView(id=job_id, magento_key=row.magento_key, magento_ref=row.magento_ref,
                       document=row.document or {}, plan=row.plan or {},
                       customer_code=row.customer_code, invoice_number=row.invoice_number,
                       recheck=bool(row.recheck), step=row.step)
        return view, add_attempt(conn, job_id, row.step, "started", task_id)


def _finished_values(result: StepResult, then: str | None, task_id: str,
                     lease_until: datetime) -> dict[str, Any]:
    """The job's columns after a step with ``result`` (``then``: the next step runs now)."""
    values: dict[str, Any] = {**result.updates, "step": result.next_step,
                              "lease_task": None, "lease_until": None}
    if then is not None:
        values |= {"state": JobState.RUNNING, "lease_task": task_id, "lease_until": lease_until}
    elif result.review:
        values |= {"state": JobState.NEEDS_REVIEW, "reason": result.review}
    elif result.wait:
        values |= {"state": JobState.WAITING, "reason": result.wait}
    elif result.next_step == Step.DONE:  # a reason only when a step was switched off
        values |= {"state": JobState.DONE, "reason": result.updates.get("reason")}
    else:
        values["state"] = JobState.QUEUED
    return values


def finish_step(conn: Connection, view: JobView, attempt_id: int, result: StepResult,
                seconds: float, task_id: str, then: str | None, lease_until: datetime
                ) -> tuple[JobView | None, int]:
    """Store the step's outcome on ``conn`` (in the caller's transaction); with ``then``,
    claim that next step for ``task_id`` in the same transaction. On PostgreSQL without
    ``result.writes`` that is one statement, which needs no transaction around it.

    Returns the next step's view and started attempt (``then``), else ``(None, 0)``.
    """
    values = _finished_values(result, then, task_id, lease_until)
    recheck = then is not None and not view.fresh and recheck_due(conn, view.id, then)
    ok = {"b_id": attempt_id, "b_ms": int(seconds * 1000)}
    next_attempt = 0
    if dialect_name(conn) == "postgresql":  # one statement: the attempts, job and links
        next_attempt = _finish_at_once(conn, view.id, ok, values, then, task_id, result.links)
    else:
        conn.execute(_ATTEMPT_OK, ok)
        conn.execute(UPDATE_JOB, {"b_job": view.id, **values})  # SET: the keys given
        if then is not None:
            next_attempt = add_attempt(conn, view.id, then, "started", task_id)
        add_links(conn, result.links)
    for write in result.writes:
        write(conn)
    if then is None:
        return None, 0
    known = {k: v for k, v in result.updates.items() if k in VIEW_FIELDS}
    return replace(view, step=then, recheck=recheck, **known), next_attempt


def _finish_at_once(conn: Connection, job_id: int, ok: dict[str, Any],
                    values: dict[str, Any], then: str | None, task_id: str,
                    links: list[tuple[str, str, str]]) -> int:
    """``finish_step``'s attempt ``ok``, job update, ``links`` and (``then``) next
    ``started`` attempt as one PostgreSQL statement (data-modifying CTEs); returns the new
    attempt's id (or 0). ``updated_at`` is given: SQLAlchemy leaves ``onupdate`` unset in
    such a statement."""
    values = {**values, "updated_at": utcnow()}
    shape = (tuple(sorted(values)), then is not None, len(links))
    if shape not in _FINISH:
        _FINISH[shape] = _finish_statement(*shape)
    params = {**ok, "b_job": job_id, **{f"v_{k}": v for k, v in values.items()}}
    if links:
        params |= link_params(links)
    if then is None:
        conn.execute(_FINISH[shape], params)
        return 0
    params |= {"b_step": then, "b_task": task_id, "b_at": utcnow()}
    return int(conn.execute(_FINISH[shape], params).scalar_one())


# Built once per shape of a finish: the job's columns set, a next step claimed, links.
_FINISH: dict[tuple[tuple[str, ...], bool, int], Any] = {}


def _finish_statement(keys: tuple[str, ...], claims: bool, links: int) -> Any:
    done = update(ATTEMPTS).where(ATTEMPTS.c.id == bindparam("b_id")).values(
        outcome="ok", duration_ms=bindparam("b_ms")).cte("kfsync_attempt_ok")
    job = update(JOBS).where(JOBS.c.id == bindparam("b_job")).values(
        {key: bindparam(f"v_{key}") for key in keys})
    also = [done, links_cte(links)] if links else [done]
    if not claims:
        return job.add_cte(*also)
    return insert(ATTEMPTS).values(
        job_id=bindparam("b_job"), step=bindparam("b_step"), outcome="started",
        task_id=bindparam("b_task"), created_at=bindparam("b_at")
    ).returning(ATTEMPTS.c.id).add_cte(*also, job.cte("kfsync_job"))


@dataclass(frozen=True)
class Failure:
    """What a failed attempt stores: its outcome, and the job's state after it."""

    outcome: str
    http_status: int | None
    duration_ms: int
    error: str
    state: str
    reason: str
    due_at: datetime | None = None
    lease_task: str | None = None  # set: the task's own retry keeps the lease until then
    lease_until: datetime | None = None


def record_failure(s: Session, job_id: int, attempt_id: int, failure: Failure) -> str:
    """Store a failed attempt and the job's new state in ``s``; returns the job's Magento
    reference (increment id, else its key) for the reason an operator reads."""
    attempt = s.get(Attempt, attempt_id)
    job = s.get(SyncJob, job_id)
    assert attempt is not None and job is not None
    attempt.outcome = failure.outcome
    attempt.http_status = failure.http_status
    attempt.duration_ms = failure.duration_ms
    attempt.error = failure.error[:2000]
    job.state, job.reason = failure.state, failure.reason
    job.lease_task, job.lease_until = failure.lease_task, failure.lease_until
    if failure.due_at is not None:
        job.due_at = failure.due_at
    return job.magento_ref or job.magento_key


def park_step(s: Session, job_id: int, step: str, task_id: str, later: Sequence[str],
              reason: str, due_at: datetime) -> None:
    """Park the job (``retrying`` until ``due_at``) if it is active at ``step`` and free."""
    s.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, step_is(step, task_id, later),
               JOBS.c.state.in_([str(x) for x in ACTIVE_STATES]),
               _free_for(task_id, utcnow()))
        .values(state=JobState.RETRYING, reason=reason, due_at=due_at, lease_task=None,
                lease_until=None))


T = TypeVar("T")


def upsert_job(s: Session, kind: str, magento_key: str, first_step: str,
               fill: Callable[[SyncJob, bool], T], likely_new: bool = False
               ) -> tuple[SyncJob, T] | None:
    """The one job of ``(kind, magento_key)`` of the current pair, by ``fill(job, new)`` in ``s``.

    ``fill`` sets the columns (a new job arrives at ``first_step``, ``skipped``); its answer
    is returned with the job, which has its id. A new job is inserted in one statement; when a
    concurrent insert wins, the existing job is read and filled instead. ``likely_new`` (an
    ``order.created``): no read before the insert, only a conflict reads. An existing job is
    read locked until ``s`` commits, so concurrent upserts of one job (two events for an
    order, side by side) fill it one after the other, each from what the one before wrote.

    Returns None when the job vanished between the conflict and the read: call again.
    """
    key = {"b_kind": kind, "b_key": magento_key, "b_pair": pairs.current()}
    job = None if likely_new else _job_for_update(s, key)
    if job is None:
        new = SyncJob(kind=kind, magento_key=magento_key, step=first_step,
                      state=JobState.SKIPPED, pair=key["b_pair"])
        answer = fill(new, True)
        job_id = s.execute(_INSERT_JOB[dialect_name(s)], {
            column: getattr(new, column) for column in _NEW_JOB_COLUMNS}).scalar_one_or_none()
        if job_id is not None:
            new.id = int(job_id)
            return new, answer
        job = _job_for_update(s, key)
        if job is None:
            return None
    answer = fill(job, False)
    s.flush()
    return job, answer


def _job_for_update(s: Session, key: dict[str, str]) -> SyncJob | None:
    """The job of ``key``, locked until ``s`` commits: a concurrent upsert of the same job
    waits, then reads what this one wrote (never the state both started from)."""
    if dialect_name(s) == "sqlite":
        s.execute(_LOCK_JOB_SQLITE, key)
        return s.scalar(_JOB, key)
    return s.scalar(_JOB_FOR_UPDATE, key)


def renew_leases(conn: Connection, held: Sequence[tuple[int, str]], until: datetime) -> int:
    """Extend to ``until`` the leases in ``held`` (job id, task id) of jobs still running
    under that task; returns how many were renewed."""
    renewed = 0
    for job_id, task_id in held:
        renewed += conn.execute(_RENEW, {"b_job": job_id, "b_task": task_id,
                                         "b_until": until}).rowcount
    return renewed


def queue_waiting(s: Session, job_id: int) -> bool:
    """Move a ``waiting`` job to ``queued``; False when another caller moved it first (one
    caller wins the conditional UPDATE)."""
    moved = cast(CursorResult[Any], s.execute(
        update(JOBS).where(JOBS.c.id == job_id, JOBS.c.state == JobState.WAITING)
        .values(state=JobState.QUEUED, reason=None))).rowcount
    return bool(moved)
