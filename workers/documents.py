"""One ``SyncJob`` per Magento customer and per credit memo: the upsert their events share.

Like an order's job (``workers.events``): the job is unique per ``(kind, magento_key)``, the
event is marked processed in the same transaction, and the chain starts only when the job
moves from idle to queued. A job already finished is started again from its first step when
``restart_done`` (a customer updated again); a credit memo, once credited, is never posted
twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.db import session_scope
from store.models import JobState, Step, SyncJob
from workers import context
from workers.deadletters import resolve_dead_letters
from workers.dispatch import publish_chain
from workers.events import IDLE_STATES, mark_processed


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
    for _ in range(2):  # a concurrent insert of the same document: read it on the second pass
        try:
            with session_scope(url) as s:
                job = s.scalar(select(SyncJob).where(SyncJob.kind == want.kind,
                                                     SyncJob.magento_key == want.magento_key))
                if job is None:
                    job = SyncJob(kind=want.kind, magento_key=want.magento_key,
                                  step=want.first_step, state=JobState.SKIPPED)
                    s.add(job)
                restartable = IDLE_STATES + ((JobState.DONE,) if want.restart_done else ())
                label = f"{want.kind} {want.magento_ref or want.magento_key}"
                if job.state not in restartable:
                    if job.state == JobState.QUEUED:  # not claimed yet: it reads this version
                        job.document = want.document
                    s.flush()
                    mark_processed(s, event_id, f"{label}: job {job.id} already {job.state}")
                    return job.id
                if job.state in (JobState.DEAD, JobState.NEEDS_REVIEW):
                    resolve_dead_letters(s, job.id, "replayed")
                if job.state == JobState.DONE:
                    job.step = want.first_step
                job.magento_ref, job.document, job.plan, job.event_id = (
                    want.magento_ref, want.document, want.plan, event_id)
                job.state, job.reason = JobState.QUEUED, None
                s.flush()
                job_id, step = job.id, job.step
                mark_processed(s, event_id, f"{label}: job {job_id} queued at {step}")
            publish_chain(job_id, step, bool(want.plan.get("pay")))
            return job_id
        except IntegrityError:
            continue
    raise RuntimeError(f"could not upsert the job for {want.kind} {want.magento_key}")
