"""What an operator does to stuck work, in one place for the CLI, the JSON API and the
dashboard: list, requeue and discard dead letters and review items. Every change is audited.

Requeue resumes a job at its failed step (the chain is rebuilt from ``sync_jobs.step``), so
nothing already done in KashFlow is repeated; a requeued event is processed from the start.
Discard needs a reason; the job becomes ``discarded`` and is never synced by itself again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from store.db import session_scope
from store.models import AuditEntry, DeadLetter, InboundEvent, JobState, SyncJob, utcnow
from workers.deadletters import resolve_dead_letters, unpark
from workers.missing import refetch_event

log = logging.getLogger(__name__)


class OperationError(Exception):
    """An operator request that cannot be carried out (unknown id, missing reason)."""


@dataclass(frozen=True)
class LetterFilter:
    ids: tuple[int, ...] = ()
    entity: str | None = None       # a job kind ("order") or "event"
    error_class: str | None = None  # transient, auth, ambiguous, error...
    since: datetime | None = None
    until: datetime | None = None
    include_resolved: bool = False
    pair: str | None = None         # an integration pair's letters only (docs/pairs.md)


def letters_query(flt: LetterFilter) -> Select[DeadLetter]:
    """The dead letters matching ``flt``, newest first."""
    query = select(DeadLetter).order_by(DeadLetter.id.desc())
    if not flt.include_resolved:
        query = query.where(DeadLetter.resolved_at.is_(None))
    if flt.ids:
        query = query.where(DeadLetter.id.in_(flt.ids))
    if flt.error_class:
        query = query.where(DeadLetter.error_class == flt.error_class)
    if flt.since:
        query = query.where(DeadLetter.created_at >= flt.since)
    if flt.until:
        query = query.where(DeadLetter.created_at < flt.until)
    if flt.pair:  # a letter's pair is its job's, or (no job) its event's
        query = query.where(or_(
            DeadLetter.job_id.in_(select(SyncJob.id).where(SyncJob.pair == flt.pair)),
            and_(DeadLetter.job_id.is_(None), DeadLetter.event_id.in_(
                select(InboundEvent.id).where(InboundEvent.pair == flt.pair)))))
    if flt.entity == "event":
        query = query.where(DeadLetter.event_id.is_not(None))
    elif flt.entity:
        query = query.join(SyncJob, SyncJob.id == DeadLetter.job_id).where(
            SyncJob.kind == flt.entity)
    return query


def requeue_letters(url: str, redis_url: str, flt: LetterFilter, *, actor: str) -> list[int]:
    """Requeue every open dead letter matching ``flt``; returns the letters' ids."""
    with session_scope(url) as s:
        letters = list(s.scalars(letters_query(flt)))
        if flt.ids and len(letters) != len(set(flt.ids)):
            missing = sorted(set(flt.ids) - {letter.id for letter in letters})
            raise OperationError(f"no open dead letter with id {', '.join(map(str, missing))}")
        jobs, events = _reopen(s, letters, actor)
    unpark(redis_url, {letter.id for letter in letters})
    _publish(url, jobs, events)
    return [letter.id for letter in letters]


def discard_letters(url: str, redis_url: str, ids: list[int], *, reason: str, actor: str
                    ) -> list[int]:
    """Close dead letters ``ids`` without syncing them; their jobs become ``discarded``."""
    reason = _require_reason(reason)
    with session_scope(url) as s:
        letters = list(s.scalars(letters_query(LetterFilter(ids=tuple(ids)))))
        if len(letters) != len(set(ids)):
            missing = sorted(set(ids) - {letter.id for letter in letters})
            raise OperationError(f"no open dead letter with id {', '.join(map(str, missing))}")
        for letter in letters:
            letter.resolved_at, letter.resolution, letter.resolution_note = (
                utcnow(), "discarded", reason)
            if letter.job_id is not None:
                _discard_job(s, letter.job_id, reason)
            _audit(s, actor, "discard", f"dead_letters/{letter.id}", reason)
    unpark(redis_url, set(ids))
    return ids


def requeue_jobs(url: str, job_ids: list[int], *, actor: str) -> list[int]:
    """Requeue jobs held for review (or dead) at their failed step."""
    with session_scope(url) as s:
        jobs = _idle_jobs(s, job_ids)
        refetch: list[int] = []
        for job in jobs:
            resolve_dead_letters(s, job.id, "requeued", f"job requeued by {actor}")
            _audit(s, actor, "requeue", f"sync_jobs/{job.id}", None)
            if _never_fetched(job):
                refetch.append(refetch_event(s, job))
            else:
                _requeue(job)
        ready = [(job.id, job.step, bool((job.plan or {}).get("pay")))
                 for job in jobs if not _never_fetched(job)]
        requeued = [job.id for job in jobs]
    _publish(url, ready, refetch)
    return requeued


def _never_fetched(job: SyncJob) -> bool:
    """An order job whose order Magento never returned (``workers.missing``): a requeue
    reads it again instead of resuming a step that has no document to work on."""
    return job.kind == "order" and job.document is None


def discard_jobs(url: str, job_ids: list[int], *, reason: str, actor: str) -> list[int]:
    """Close review (or dead) jobs without syncing them; audited with ``reason``."""
    reason = _require_reason(reason)
    with session_scope(url) as s:
        for job in _idle_jobs(s, job_ids):
            resolve_dead_letters(s, job.id, "discarded", reason)
            _discard_job(s, job.id, reason)
            _audit(s, actor, "discard", f"sync_jobs/{job.id}", reason)
    return job_ids


def _requeue(job: SyncJob) -> None:
    """Queue a held job again. A hold by data-quality checks of severity ``review`` is
    acknowledged by the requeue: those checks no longer hold it (``block`` still does)."""
    job.state, job.reason, job.due_at = JobState.QUEUED, None, None
    plan = dict(job.plan or {})
    if plan.get("held_checks"):
        plan["acknowledged_checks"] = sorted(set(plan.get("acknowledged_checks") or [])
                                             | set(plan.pop("held_checks")))
        job.plan = plan


def _reopen(s: Session, letters: list[DeadLetter], actor: str
            ) -> tuple[list[tuple[int, str, bool]], list[int]]:
    jobs: list[tuple[int, str, bool]] = []
    events: list[int] = []
    for letter in letters:
        letter.resolved_at, letter.resolution = utcnow(), "requeued"
        _audit(s, actor, "requeue", f"dead_letters/{letter.id}", None)
        if letter.job_id is not None:
            job = s.get(SyncJob, letter.job_id)
            if job is not None and job.state in (JobState.DEAD, JobState.NEEDS_REVIEW):
                if _never_fetched(job):
                    events.append(refetch_event(s, job))
                    continue
                _requeue(job)
                jobs.append((job.id, job.step, bool((job.plan or {}).get("pay"))))
        elif letter.event_id is not None:
            event = s.get(InboundEvent, letter.event_id)
            if event is not None:
                event.processed_at, event.outcome, event.enqueued_at = None, None, None
                events.append(event.id)
    return jobs, events


def _publish(url: str, jobs: list[tuple[int, str, bool]], events: list[int]) -> None:
    """After commit: start the chains and events. A broker outage leaves them queued in the
    database, where the stalled-job redrive and the event relay pick them up."""
    from workers.dispatch import enqueue_event, publish_chain

    for job_id, step, pay in jobs:
        publish_chain(job_id, step, pay)
    for event_id in events:
        enqueue_event(url, event_id)


def _idle_jobs(s: Session, job_ids: list[int]) -> list[SyncJob]:
    jobs = list(s.scalars(select(SyncJob).where(SyncJob.id.in_(job_ids))))
    found = {job.id for job in jobs}
    if missing := sorted(set(job_ids) - found):
        raise OperationError(f"no job with id {', '.join(map(str, missing))}")
    busy = [j.id for j in jobs if j.state not in (JobState.NEEDS_REVIEW, JobState.DEAD)]
    if busy:
        raise OperationError(f"job {', '.join(map(str, busy))} is not held for review or dead")
    return jobs


def _discard_job(s: Session, job_id: int, reason: str) -> None:
    job = s.get(SyncJob, job_id)
    if job is not None:
        job.state, job.reason, job.due_at = JobState.DISCARDED, f"discarded: {reason}", None


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise OperationError("a discard needs a reason")
    return reason


def _audit(s: Session, actor: str, action: str, target: str, note: str | None) -> None:
    s.add(AuditEntry(actor=actor, action=action, target=target, note=note))


def letter_subjects(s: Session, letters: list[DeadLetter]) -> dict[int, str]:
    """What each letter is about, in the words an operator searches by: ``order 000000123``,
    ``creditmemo 000000045``, ``event 12 (order 000000123)``; ``payload_ref`` otherwise."""
    job_ids = {x.job_id for x in letters if x.job_id is not None}
    event_ids = {x.event_id for x in letters if x.event_id is not None and x.job_id is None}
    jobs = {j.id: j for j in s.scalars(select(SyncJob).where(SyncJob.id.in_(job_ids)))
            } if job_ids else {}
    events = {e.id: e for e in s.scalars(select(InboundEvent).where(
        InboundEvent.id.in_(event_ids)))} if event_ids else {}
    out: dict[int, str] = {}
    for letter in letters:
        job = jobs.get(letter.job_id) if letter.job_id is not None else None
        event = events.get(letter.event_id) if letter.event_id is not None else None
        if job is not None:
            out[letter.id] = f"{job.kind} {job.magento_ref or job.magento_key}"
        elif event is not None:
            ref = event.increment_id or event.resource_key
            out[letter.id] = f"event {event.id} ({event.resource_type} {ref})"
        else:
            out[letter.id] = letter.payload_ref
    return out


def letter_pairs(s: Session, letters: list[DeadLetter]) -> dict[int, str]:
    """Each letter's integration pair: its job's, else its event's (``default`` without)."""
    job_ids = {x.job_id for x in letters if x.job_id is not None}
    event_ids = {x.event_id for x in letters if x.event_id is not None}
    jobs: dict[int | None, str] = {key: pair for key, pair in s.execute(
        select(SyncJob.id, SyncJob.pair).where(SyncJob.id.in_(job_ids)))} if job_ids else {}
    events: dict[int | None, str] = {key: pair for key, pair in s.execute(
        select(InboundEvent.id, InboundEvent.pair).where(InboundEvent.id.in_(event_ids)))
    } if event_ids else {}
    return {x.id: jobs.get(x.job_id) or events.get(x.event_id) or "default" for x in letters}


def describe_letter(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as plain data (CLI, API)."""
    return {"id": letter.id, "job_id": letter.job_id, "event_id": letter.event_id,
            "step": letter.step, "error_class": letter.error_class, "reason": letter.reason,
            "payload_ref": letter.payload_ref, "created_at": letter.created_at,
            "resolved_at": letter.resolved_at, "resolution": letter.resolution,
            "resolution_note": letter.resolution_note}
