"""An attempt is one try of one step of a job: ``started`` (committed before its API call),
then ``ok``, ``failed``, ``ambiguous`` ... (``store.jobs`` stores the outcome with the job's).

- ``add_attempt`` and ``open_attempts`` (several at once, with the event's outcome: the
  job upsert's transaction, ``workers.events``);
- ``needs_recheck``: an earlier attempt may have reached KashFlow, so the step looks its
  record up before writing.

The statements are built once (see ``store.jobs``). This module imports nothing above ``store``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, exists, insert, select
from sqlalchemy.orm import Session

from store.db import bound_rows, dialect_name, row_params
from store.events import mark_processed, processed_cte, processed_params
from store.models import Attempt, utcnow

ATTEMPTS = cast(Table, Attempt.__table__)
# An attempt that may have reached KashFlow: left ``started`` (its worker or database went
# away), ``ambiguous`` (no answer, or a 5xx, to a write), or ``error`` (failed in a way no
# class of ``core.errors`` names: a bug or an unexpected answer, before or after its write).
RECHECK_OUTCOMES = ("started", "ambiguous", "error")
_ATTEMPT_NEW = insert(ATTEMPTS).values(
    job_id=bindparam("b_job"), step=bindparam("b_step"), outcome=bindparam("b_outcome"),
    duration_ms=bindparam("b_ms"), task_id=bindparam("b_task"), created_at=bindparam("b_at")
).returning(ATTEMPTS.c.id)


def needs_recheck(job_id: Any, step: Any) -> Any:
    """True when an earlier attempt of ``step`` may have reached KashFlow (it ended
    ``started``, ``ambiguous`` or ``error``): look the record up before writing."""
    return exists().where(ATTEMPTS.c.job_id == job_id, ATTEMPTS.c.step == step,
                          ATTEMPTS.c.outcome.in_(RECHECK_OUTCOMES))


_RECHECK = select(needs_recheck(bindparam("b_job"), bindparam("b_step")))


def recheck_due(conn: Connection | Session, job_id: int, step: str) -> bool:
    """``needs_recheck`` for ``step`` of ``job_id``, read on ``conn``."""
    return bool(conn.scalar(_RECHECK, {"b_job": job_id, "b_step": step}))


def add_attempt(conn: Connection | Session, job_id: int, step: str, outcome: str,
                task_id: str | None, duration_ms: int | None = None) -> int:
    """Insert an attempt row on ``conn``; returns its id."""
    return int(conn.execute(_ATTEMPT_NEW, {
        "b_job": job_id, "b_step": step, "b_outcome": outcome, "b_ms": duration_ms,
        "b_task": task_id, "b_at": utcnow()}).scalar_one())


def open_attempts(conn: Connection | Session, job_id: int,
                  attempts: Sequence[tuple[str, str, str | None, int | None]],
                  event: tuple[int, str] | None = None) -> list[int]:
    """Insert ``attempts`` of job ``job_id`` (step, outcome, task id, duration ms each; no
    two with the same step and outcome) and, with ``event`` (id, outcome), store that
    event's outcome: one statement on PostgreSQL. Returns the attempts' ids, in order."""
    if dialect_name(conn) != "postgresql" or not attempts:
        if event is not None:
            mark_processed(conn, *event)
        return [add_attempt(conn, job_id, step, outcome, task, ms)
                for step, outcome, task, ms in attempts]
    shape = (len(attempts), event is not None)
    if shape not in _OPEN:
        _OPEN[shape] = _open_statement(*shape)
    at = utcnow()
    params = row_params("a", [
        {"job_id": job_id, "step": step, "outcome": outcome, "task_id": task,
         "duration_ms": ms, "created_at": at} for step, outcome, task, ms in attempts])
    if event is not None:
        params |= processed_params(*event)
    ids = {(row.step, row.outcome): int(row.id)
           for row in conn.execute(_OPEN[shape], params)}
    return [ids[step, outcome] for step, outcome, _, _ in attempts]


_OPEN: dict[tuple[int, bool], Any] = {}  # built once per shape: attempts, an event marked


def _open_statement(count: int, marks_event: bool) -> Any:
    statement = insert(ATTEMPTS).from_select(
        _OPENED, bound_rows(ATTEMPTS, _OPENED, count, "a"), include_defaults=False
    ).returning(ATTEMPTS.c.id, ATTEMPTS.c.step, ATTEMPTS.c.outcome)
    return statement.add_cte(processed_cte()) if marks_event else statement


_OPENED = ("job_id", "step", "outcome", "task_id", "duration_ms", "created_at")
