"""One ``SyncJob`` per Magento customer and per credit memo (``store.jobs.upsert_job``).

Like an order's job (``workers.events``): the job is unique per ``(kind, magento_key)``, the
event is marked processed in the same transaction, and the chain starts only when the job
moves from idle to queued. A job already finished is started again from its first step when
``restart_done`` (a customer updated again); a credit memo, once credited, is never posted
twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import jobs
from store.db import session_scope
from store.events import mark_processed
from store.jobs import IDLE_STATES
from store.models import JobState, Step, SyncJob
from workers import context
from workers.deadletters import resolve_dead_letters
from workers.dispatch import publish_chain


@dataclass(frozen=True)
class DocumentJob:
    kind: str
    magento_key: str
    magento_ref: str | None
    document: dict[str, Any]
    plan: dict[str, Any]
    first_step: Step
    restart_done: bool = False


def upsert_and_start(want: DocumentJob, event_id: int | None) -> int:
    """Create or refresh the job for ``want``, mark ``event_id`` and start the chain if due.

    Returns the job id.
    """
    url = context.db_url()
    for _ in range(2):  # the job vanished between a conflict and its read: once more
        try:
            with session_scope(url) as s:
                done = jobs.upsert_job(s, want.kind, want.magento_key, want.first_step,
                                       partial(_fill_job, s, want, event_id))
                if done is None:
                    continue
                job, queued = done
                label = f"{want.kind} {want.magento_ref or want.magento_key}"
                if not queued:
                    mark_processed(s, event_id, f"{label}: job {job.id} already {job.state}")
                    return job.id
                job_id, step = job.id, job.step
                mark_processed(s, event_id, f"{label}: job {job_id} queued at {step}")
            publish_chain(job_id, step, bool(want.plan.get("pay")))
            return job_id
        except IntegrityError:
            continue
    raise RuntimeError(f"could not upsert the job for {want.kind} {want.magento_key}")


def _fill_job(s: Session, want: DocumentJob, event_id: int | None, job: SyncJob, new: bool
              ) -> bool:
    """Queue ``job`` with ``want``'s document; False when it is busy (left as it is, but a
    job not claimed yet reads this version of the document)."""
    restartable = IDLE_STATES + ((JobState.DONE,) if want.restart_done else ())
    if job.state not in restartable:
        if job.state == JobState.QUEUED:  # not claimed yet: it reads this version
            job.document = want.document
        return False
    if job.state in (JobState.DEAD, JobState.NEEDS_REVIEW):
        resolve_dead_letters(s, job.id, "replayed")
    if job.state == JobState.DONE:
        job.step = want.first_step
    job.magento_ref, job.document, job.plan, job.event_id = (
        want.magento_ref, want.document, want.plan, event_id)
    job.state, job.reason = JobState.QUEUED, None
    return True
